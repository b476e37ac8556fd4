"""Per-workspace rules (keyword or regex → tag, priority, assignee, auto-hide) and keywords.

Applied in the worker as each message is ingested. A workspace's patterns must not stall
ingestion for everyone (catastrophic backtracking), so matching is bounded three ways: a
workspace has at most MAX_RULES rules (MAX_REGEX_RULES of them regexes), each search has a
time limit and one message a total budget, and the matching runs in a worker thread with
the GIL released, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

import regex
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.models import Rule, WorkspaceKeywords
from services.inbox.sentiment import NO_KEYWORDS, Keywords, fold, higher, term_pattern
from shared.errors import Conflict, ValidationFailed

log = logging.getLogger(__name__)

REGEX_TIMEOUT_SECONDS = 0.05
# All of a message's rules together; rules left when it is spent do not match (and are
# logged), so one message costs at most this much matching whatever the rules.
MESSAGE_BUDGET_SECONDS = 0.25
MAX_RULES = 100
MAX_REGEX_RULES = 20
# How many atoms a pattern may stand for once its counted repeats are multiplied out: the
# regex engine expands `(?:a{1000}){1000}` when compiling, and three such levels take
# gigabytes of memory before any message is matched.
MAX_EXPANSION = 100_000
_COUNT = regex.compile(r"\{(\d*)(?:,(\d*))?\}")


def _class_end(pattern: str, start: int) -> int:
    """The index after the character class opening at `start` (sets nest in regex's V1)."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    depth = 1
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def expansion(pattern: str) -> int:
    """About how many atoms `pattern` compiles to: a sequence adds up, a counted repeat
    ({m}, {m,n}, {m,}) multiplies what it repeats by its largest count."""
    # Per open group: [atoms so far, atoms of the last item (what a quantifier repeats)].
    groups: list[list[int]] = [[0, 0]]

    def add(size: int) -> None:
        groups[-1][0] += size
        groups[-1][1] = size

    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            # \p{L}, \N{name}, \x{263a}: braces that are not counts.
            end = i + 2
            if (
                pattern[i + 1 : i + 2] in ("p", "P", "N", "x", "u", "U", "g")
                and pattern[end : end + 1] == "{"
            ):
                close = pattern.find("}", end)
                end = len(pattern) if close < 0 else close + 1
            add(1)
            i = end
        elif c == "[":
            add(1)
            i = _class_end(pattern, i)
        elif c == "(":
            groups.append([0, 0])
            i += 1
        elif c == ")" and len(groups) > 1:
            add(max(groups.pop()[0], 1))
            i += 1
        elif c == "{" and (count := _COUNT.match(pattern, i)) and (count[1] or count[2]):
            times = max(int(count[1] or 0), int(count[2] or 0))
            last = groups[-1][1]
            groups[-1][0] += last * (times - 1)
            groups[-1][1] = last * times
            i = count.end()
        else:
            add(1)
            i += 1
    while len(groups) > 1:
        add(max(groups.pop()[0], 1))
    return groups[0][0]


def compile_rule(match: str, pattern: str) -> regex.Pattern[str]:
    if match == "keyword":
        # A comma-separated list of terms; any of them matches.
        terms = [t for t in (p.strip() for p in pattern.split(",")) if t]
        if not terms:
            raise ValidationFailed("A keyword rule needs at least one term.", field="pattern")
        return regex.compile("|".join(term_pattern(t) for t in terms))
    if expansion(pattern) > MAX_EXPANSION:
        raise ValidationFailed(
            f"The pattern repeats too much: at most {MAX_EXPANSION} characters once its "
            "counted repeats ({n}, {m,n}) are multiplied out.",
            field="pattern",
        )
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.V1)
    except regex.error as exc:
        raise ValidationFailed(f"Not a valid regular expression: {exc}.", field="pattern") from exc


@dataclass
class Outcome:
    """What the matching rules want done to a message and its conversation."""

    rule_ids: list[uuid.UUID] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    priority: str | None = None
    assignee: str | None = None
    hide_by: uuid.UUID | None = None


def matches(rule: Rule, text: str, *, timeout: float = REGEX_TIMEOUT_SECONDS) -> bool:
    try:
        compiled = compile_rule(rule.match, rule.pattern)
    except ValidationFailed:
        return False  # kept from before a limit was added: it never matches

    subject = fold(text) if rule.match == "keyword" else text
    try:
        # concurrent: the GIL is let go while matching, so the event loop runs meanwhile.
        found = compiled.search(subject, timeout=timeout, concurrent=True)
    except TimeoutError:
        return False
    return found is not None


async def check_room(
    session: AsyncSession, *, workspace_id: uuid.UUID, match: str, replacing: Rule | None = None
) -> None:
    """Refuses a rule beyond the workspace's limits (409); `replacing` is the rule it updates."""
    # One writer at a time per workspace, so two concurrent creations cannot both fit.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"inbox.rules:{workspace_id}")))
    )
    counts = dict(
        (
            await session.execute(
                select(Rule.match, func.count())
                .where(Rule.workspace_id == workspace_id)
                .where(Rule.id != replacing.id if replacing is not None else True)
                .group_by(Rule.match)
            )
        ).all()
    )
    if sum(counts.values()) >= MAX_RULES:
        raise Conflict(f"A workspace has at most {MAX_RULES} inbox rules.")
    if match == "regex" and counts.get("regex", 0) >= MAX_REGEX_RULES:
        raise Conflict(f"A workspace has at most {MAX_REGEX_RULES} regex rules.")


async def workspace_rules(session: AsyncSession, *, workspace_id: uuid.UUID) -> list[Rule]:
    return list(
        (
            await session.scalars(
                select(Rule)
                .where(Rule.workspace_id == workspace_id, Rule.enabled.is_(True))
                .order_by(Rule.position, Rule.created_at)
            )
        ).all()
    )


def apply(rules: list[Rule], text: str, *, budget: float = MESSAGE_BUDGET_SECONDS) -> Outcome:
    outcome = Outcome()
    deadline = time.monotonic() + budget
    for position, rule in enumerate(rules):
        left = deadline - time.monotonic()
        if left <= 0:
            log.warning("rule budget spent; %d rules not tried", len(rules) - position)
            break
        if not matches(rule, text, timeout=min(REGEX_TIMEOUT_SECONDS, left)):
            continue
        outcome.rule_ids.append(rule.id)
        outcome.tags += [t for t in rule.tags if t not in outcome.tags]
        if rule.priority:
            outcome.priority = higher(outcome.priority, rule.priority)
        # The first matching rule that names an assignee wins.
        if rule.assignee and outcome.assignee is None:
            outcome.assignee = rule.assignee
        if rule.hide and outcome.hide_by is None:
            outcome.hide_by = rule.id
    return outcome


async def apply_off_loop(rules: list[Rule], text: str) -> Outcome:
    """`apply` in a worker thread: matching never holds up the event loop."""
    if not rules:
        return Outcome()
    return await asyncio.to_thread(apply, rules, text)


async def workspace_keywords(session: AsyncSession, *, workspace_id: uuid.UUID) -> Keywords:
    row = await session.get(WorkspaceKeywords, workspace_id)
    return Keywords.of(row.terms) if row is not None and row.terms else NO_KEYWORDS
