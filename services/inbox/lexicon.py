"""The built-in sentiment scorer for languages other than English: a lexicon per language.

Each language is a data file in `lexicons/` (its source and licence in the header): words
and phrases with a valence on VADER's scale (−4 … 4), and the words that negate, strengthen,
soften or turn a sentence ("but"). Scoring follows VADER's idea: the valences of the words
found add up, a negator just before a word flips and weakens it, a booster strengthens it,
what follows "but" outweighs what came before, and the sum is normalised to [−1, 1].

Words are found through the morphology each language needs:
- Hebrew glues up to three prefix letters to a word (ו, ה, ש, ב, ל, מ, כ: "וכשהשירות") and
  writes five letters differently at the end of a word (ך ם ן ף ץ); niqqud is dropped.
- Arabic glues conjunctions, prepositions and the article (و ف ب ل ك ال) and suffixes;
  alef and yeh variants, taa marbuta and tashkeel are normalised.
- Icelandic inflects for case, number and gender: a suffix stripper brings "frábærri",
  "frábæran" and "frábærum" back to "frábær"; irregular forms are listed in the lexicon.
- Spanish, French, German and Portuguese: the Snowball stemmers, accents folded (comments
  often drop them).
An exact form listed in the lexicon always wins over a stem.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import regex

LEXICONS = Path(__file__).with_name("lexicons")
# VADER's normalisation constant: compound = s / sqrt(s² + ALPHA).
ALPHA = 15.0
# VADER's weights: a negated word keeps 74 % of its strength with the sign turned; each "!"
# (up to four) adds 0.292 in the direction of the sum.
NEGATED = -0.74
EXCLAMATION = 0.292
# How far back a negator or a booster reaches, in words.
NEGATION_REACH = 3
BOOST_REACH = 2
# Around "but": what comes before counts half, what comes after one and a half.
BEFORE_CONTRAST = 0.5
AFTER_CONTRAST = 1.5
# A question asks rather than praises: "is it any good?" is not praise.
QUESTION_POSITIVE = 0.4

WORD = regex.compile(r"[\p{L}\p{M}][\p{L}\p{M}'’\u05F3\u05F4\"]*")
HEBREW_FINALS = str.maketrans("ךםןףץ", "כמנפצ")
HEBREW_PREFIXES = "והשבלמכ"
HEBREW_SUFFIXES = ("ים", "ות", "ה", "ת", "י", "ו", "ך", "נו", "כם", "הם", "יות", "ית")
ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك", "س")
ARABIC_SUFFIXES = ("ها", "هم", "كم", "نا", "ات", "ين", "ون", "ه", "ك", "ي", "ا")
ICELANDIC_SUFFIXES = tuple(
    sorted(
        [
            "anna",
            "unum",
            "inum",
            "ingu",
            "ingar",
            "ingum",
            "arnir",
            "urnar",
            "irnir",
            "inni",
            "ana",
            "ina",
            "inn",
            "ins",
            "num",
            "nar",
            "nir",
            "ari",
            "ast",
            "ust",
            "ara",
            "rar",
            "ri",
            "ra",
            "um",
            "ar",
            "ir",
            "ur",
            "an",
            "in",
            "ið",
            "na",
            "a",
            "i",
            "u",
            "t",
            "s",
            "r",
        ],
        key=len,
        reverse=True,
    )
)


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def squeeze(word: str) -> str:
    """Letters stretched for effect ("goooood", "גרועעעע") back to at most two."""
    return regex.sub(r"(.)\1{2,}", r"\1\1", word)


def _hebrew_norm(word: str) -> str:
    word = "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))
    return word.replace("'", "").replace("’", "").replace("\u05f3", "").translate(HEBREW_FINALS)


def _hebrew_forms(word: str) -> Iterable[str]:
    """The word with up to three prefix letters and one suffix taken off."""
    stems = [word]
    rest = word
    for _ in range(3):
        if len(rest) > 3 and rest[0] in HEBREW_PREFIXES:
            rest = rest[1:]
            stems.append(rest)
        else:
            break
    for stem in stems:
        yield stem
    for stem in stems:
        for suffix in HEBREW_SUFFIXES:
            if stem.endswith(suffix) and len(stem) - len(suffix) >= 2:
                yield stem[: -len(suffix)]


_ARABIC_NORM = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ـ": None})


def _arabic_norm(word: str) -> str:
    word = "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", word).translate(_ARABIC_NORM)


def _arabic_forms(word: str) -> Iterable[str]:
    stems = [word]
    for prefix in ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            stems.append(word[len(prefix) :])
    for stem in stems:
        yield stem
    for stem in stems:
        for suffix in ARABIC_SUFFIXES:
            if stem.endswith(suffix) and len(stem) - len(suffix) >= 2:
                yield stem[: -len(suffix)]


def icelandic_stem(word: str) -> str:
    for suffix in ICELANDIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=8)
def _snowball(name: str) -> Callable[[str], str]:
    import snowballstemmer

    stemmer = snowballstemmer.stemmer(name)
    return lambda w: str(stemmer.stemWord(w))


@dataclass(frozen=True)
class Morphology:
    """How one language's words are brought to the forms its lexicon is kept in."""

    normalise: Callable[[str], str]
    # Further forms of a normalised word to look up, most literal first.
    forms: Callable[[str], Iterable[str]]
    # A stem shared by a lexicon entry and the words inflected from it (None: no stemming).
    stem: Callable[[str], str] | None = None


def _no_forms(word: str) -> Iterable[str]:
    return ()


def _accents_folded(word: str) -> str:
    return strip_accents(word)


def _romance_singular(word: str) -> Iterable[str]:
    # The stemmers do not always bring a plural to its singular's stem ("preciosas" →
    # "preci", "precioso" → "precios"): the singular is looked up too.
    if len(word) > 4 and word.endswith(("s", "x")):
        yield word[:-1]


MORPHOLOGY: dict[str, Morphology] = {
    "he": Morphology(_hebrew_norm, _hebrew_forms),
    "ar": Morphology(_arabic_norm, _arabic_forms),
    "is": Morphology(lambda w: w, _no_forms, icelandic_stem),
    "es": Morphology(_accents_folded, _romance_singular, _snowball("spanish")),
    "fr": Morphology(_accents_folded, _romance_singular, _snowball("french")),
    "pt": Morphology(_accents_folded, _romance_singular, _snowball("portuguese")),
    "de": Morphology(lambda w: w.replace("ß", "ss"), _no_forms, _snowball("german")),
}


@dataclass
class Lexicon:
    """One language's words and the small words that steer them."""

    language: str
    words: dict[str, float] = field(default_factory=dict)
    # First word of a phrase → [(the phrase's words, valence)], longest first.
    phrases: dict[str, list[tuple[tuple[str, ...], float]]] = field(default_factory=dict)
    stems: dict[str, float] = field(default_factory=dict)
    negators: set[str] = field(default_factory=set)
    boosters: dict[str, float] = field(default_factory=dict)
    contrast: set[str] = field(default_factory=set)
    source: str = ""
    licence: str = ""

    @property
    def morphology(self) -> Morphology:
        return MORPHOLOGY.get(self.language, Morphology(lambda w: w, _no_forms))

    def norm(self, word: str) -> str:
        return self.morphology.normalise(fold(word))

    def valence(self, word: str) -> float | None:
        """The valence of a normalised word, through its forms and stem; None if unknown."""
        for candidate in (word, squeeze(word)):
            if candidate in self.words:
                return self.words[candidate]
            for form in self.morphology.forms(candidate):
                if form in self.words:
                    return self.words[form]
            stem = self.morphology.stem
            if stem is not None and len(candidate) > 3:
                for form in (candidate, *self.morphology.forms(candidate)):
                    found = self.stems.get(stem(form))
                    if found is not None:
                        return found
        return None

    def _is(self, word: str, group: set[str] | dict[str, float]) -> bool:
        if word in group:
            return True
        return any(form in group for form in self.morphology.forms(word))


@dataclass(frozen=True)
class LexiconScore:
    raw: float
    matched: int

    @property
    def compound(self) -> float:
        if not self.raw:
            return 0.0
        return round(self.raw / math.sqrt(self.raw * self.raw + ALPHA), 4)


def score_text(lexicon: Lexicon, text: str) -> LexiconScore:
    """Sum of the valences of the words of `text` in `lexicon`, steered as VADER does."""
    raw_words = WORD.findall(text)
    words = [lexicon.norm(w) for w in raw_words]
    shouting = sum(1 for w in raw_words if w.isupper() and len(w) > 1) < len(raw_words)
    valences: list[float] = []
    contrast_at: int | None = None
    i = 0
    while i < len(words):
        word = words[i]
        value, width = _phrase(lexicon, words, i)
        if value is None:
            if lexicon._is(word, lexicon.contrast):
                contrast_at = len(valences)
            # A booster in front of a word with a feeling only steers it.
            steering = lexicon._is(word, lexicon.boosters) or lexicon._is(word, lexicon.negators)
            if not (steering and i + 1 < len(words) and lexicon.valence(words[i + 1])):
                value = lexicon.valence(word)
        if value is None:
            valences.append(0.0)
            i += 1
            continue
        value = _steered(lexicon, words, i, value)
        if shouting and raw_words[i].isupper() and len(raw_words[i]) > 1:
            value *= 1.3
        valences.append(value)
        valences.extend([0.0] * (width - 1))
        i += width
    if contrast_at is not None:
        valences = [
            v * (BEFORE_CONTRAST if n < contrast_at else AFTER_CONTRAST)
            for n, v in enumerate(valences)
        ]
    total = sum(valences)
    if "?" in text and total > 0:
        total *= QUESTION_POSITIVE
    if total:
        total += math.copysign(EXCLAMATION * min(text.count("!"), 4), total)
    return LexiconScore(raw=total, matched=sum(1 for v in valences if v))


def _phrase(lexicon: Lexicon, words: list[str], i: int) -> tuple[float | None, int]:
    for phrase, value in lexicon.phrases.get(words[i], ()):
        if tuple(words[i : i + len(phrase)]) == phrase:
            return value, len(phrase)
    return None, 1


def _steered(lexicon: Lexicon, words: list[str], i: int, value: float) -> float:
    for back in range(1, BOOST_REACH + 1):
        if i - back < 0:
            break
        before = words[i - back]
        boost = lexicon.boosters.get(before)
        if boost is None:
            boost = next(
                (
                    lexicon.boosters[f]
                    for f in lexicon.morphology.forms(before)
                    if f in lexicon.boosters
                ),
                None,
            )
        if boost is not None:
            value += math.copysign(boost, value)
    for back in range(1, NEGATION_REACH + 1):
        if i - back >= 0 and lexicon._is(words[i - back], lexicon.negators):
            return value * NEGATED
    return value


def parse(language: str, lines: Iterable[str]) -> Lexicon:
    """A lexicon file: `# key: value` header lines, then `[words]`, `[negators]`,
    `[boosters]` and `[contrast]` sections; a words or boosters line is `term<TAB>weight`."""
    lexicon = Lexicon(language=language)
    section = "words"
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            _read_header(lexicon, line)
        elif line.startswith("[") and line.rstrip().endswith("]"):
            section = line.strip()[1:-1]
        else:
            _read_entry(lexicon, section, line)
    for phrases in lexicon.phrases.values():
        phrases.sort(key=lambda p: -len(p[0]))
    _index_stems(lexicon)
    return lexicon


def _read_header(lexicon: Lexicon, line: str) -> None:
    key, _, value = line[1:].partition(":")
    if key.strip().lower() == "source":
        lexicon.source = value.strip()
    elif key.strip().lower() == "licence":
        lexicon.licence = value.strip()


def _read_entry(lexicon: Lexicon, section: str, line: str) -> None:
    term, _, weight = line.partition("\t")
    words = tuple(lexicon.norm(w) for w in WORD.findall(term))
    if not words:
        return
    if section == "words":
        value = float(weight)
        if len(words) > 1:
            lexicon.phrases.setdefault(words[0], []).append((words, value))
        else:
            lexicon.words[words[0]] = value
    elif section == "negators":
        lexicon.negators.add(" ".join(words))
    elif section == "boosters":
        lexicon.boosters[" ".join(words)] = float(weight)
    elif section == "contrast":
        lexicon.contrast.add(" ".join(words))
    else:
        raise ValueError(f"{lexicon.language}: unknown section [{section}]")


def _index_stems(lexicon: Lexicon) -> None:
    stem = lexicon.morphology.stem
    if stem is None:
        return
    by_stem: dict[str, list[tuple[str, float]]] = {}
    for word, value in lexicon.words.items():
        by_stem.setdefault(stem(word), []).append((word, value))
    for key, entries in by_stem.items():
        # A stem shared by words of opposite feeling ("von" hope, "vont" bad) keeps the
        # word that is the stem itself, else the strongest.
        exact = [v for w, v in entries if w == key]
        lexicon.stems[key] = exact[0] if exact else max((v for _, v in entries), key=abs)


@lru_cache(maxsize=32)
def load(language: str) -> Lexicon:
    path = LEXICONS / f"{language}.tsv"
    with path.open(encoding="utf-8") as handle:
        return parse(language, handle)


def available() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in LEXICONS.glob("*.tsv") if p.stem not in ("emoji",)))


@lru_cache(maxsize=1)
def emoji() -> dict[str, float]:
    """Emoji → valence on VADER's scale, from the Emoji Sentiment Ranking (lexicons/emoji.tsv,
    whose scores run −1 … 1 and are multiplied by EMOJI_SCALE)."""
    table: dict[str, float] = {}
    with (LEXICONS / "emoji.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip() or line.startswith("#"):
                continue
            char, score, *_ = line.rstrip("\n").split("\t")
            table[char.replace("\ufe0f", "")] = float(score) * EMOJI_SCALE
    return table


# The ranking's scores are means over tweets, so even 😡 sits near −0.2 … −0.4; on VADER's
# scale a word like "angry" is −2.3. Scaled so a clear emoji weighs like a clear word.
EMOJI_SCALE = 4.0


def emoji_valence(text: str) -> tuple[float, int]:
    table = emoji()
    total = 0.0
    found = 0
    for ch in text.replace("\ufe0f", ""):
        value = table.get(ch)
        if value is not None:
            total += value
            found += 1
    return total, found
