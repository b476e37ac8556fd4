"""A report's figures as documents a person reads or sends: a PDF, an HTML page and a CSV.

The PDF is laid out with fpdf2 and the DejaVu Sans bundled with matplotlib (Latin, Icelandic
and Hebrew glyphs). fpdf2 writes text in the order it is given, so right-to-left lines go
through `wording.visual` (the Unicode bidirectional algorithm) after they are wrapped; the
HTML page carries `dir="rtl"` and leaves that to the browser.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
from fpdf import FPDF

from services.metrics import charts
from services.metrics.wording import RTL, WEEKDAYS, day, number, percent, visual, word

FONT_DIR = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
PAGE_WIDTH = 180.0  # mm inside the margins of an A4 page
SUMMARY_ROWS = (
    ("posts_published", 0),
    ("engagements", 0),
    ("engagement_rate", None),
    ("views", 0),
    ("reach", 0),
    ("followers_gained", 0),
    ("clicks", 0),
    ("conversions", 0),
)


@dataclass(frozen=True)
class Documents:
    pdf: bytes
    html: str
    csv: str


@dataclass(frozen=True)
class Figures:
    """The charts of a report, drawn once for both the PDF and the HTML page."""

    titled: list[tuple[str, bytes]]  # (section title, PNG)


def render(figures: dict[str, Any], *, language: str, scope: str) -> Documents:
    drawn = draw_charts(figures, language=language)
    return Documents(
        pdf=render_pdf(figures, drawn, language=language, scope=scope),
        html=render_html(figures, drawn, language=language, scope=scope),
        csv=render_csv(figures),
    )


def draw_charts(figures: dict[str, Any], *, language: str) -> Figures:
    tz = figures["timezone"]
    series = {
        network: [(date.fromisoformat(d), v) for d, v in points]
        for network, points in figures["engagement_by_day"].items()
    }
    out = [
        (
            word("engagement_over_time", language),
            charts.engagement_over_time(series, language=language, timezone=tz).data,
        )
    ]
    for grid in figures["best_times"]:
        slots = [(s["weekday"], s["hour"]) for s in grid["slots"]]
        chart = charts.best_times_heatmap(
            grid["scores"],
            slots=slots,
            language=language,
            timezone=grid["timezone"],
            channel=grid["network"],
        )
        out.append((f"{word('best_times', language)} – {grid['network']}", chart.data))
    posts = [
        ((p["text"] or word("no_text", language)), p["engagements"], p["networks"][0])
        for p in figures["top_posts"]
    ]
    out.append((word("top_posts", language), charts.top_posts_bars(posts, language=language).data))
    rows = [(r["key"], r["clicks"], r["conversions"]) for r in figures["campaigns"]]
    out.append(
        (word("clicks_conversions", language), charts.campaign_clicks(rows, language=language).data)
    )
    inbox = figures["inbox"]
    langs = [(r["language"], r["messages"], r["sentiment"]) for r in inbox["languages"]]
    out.append(
        (
            word("inbox_by_language", language),
            charts.inbox_by_language(langs, language=language).data,
        )
    )
    days = [(date.fromisoformat(r["day"]), r["p50"], r["p90"]) for r in inbox["response_days"]]
    out.append(
        (
            word("response_times", language),
            charts.response_times(days, language=language, timezone=tz).data,
        )
    )
    return Figures(out)


def period(figures: dict[str, Any], language: str, *, previous: bool = False) -> str:
    """The range in the report's zone; the end is exclusive, so the last day shown is the one
    before it."""
    zone = ZoneInfo(figures["timezone"])
    start = datetime.fromisoformat(figures["previous_from" if previous else "from"])
    end = datetime.fromisoformat(figures["previous_to" if previous else "to"])
    first = start.astimezone(zone)
    last = end.astimezone(zone)
    if last.time() == datetime.min.time():
        last = datetime.fromordinal(last.toordinal() - 1)
    return f"{day(first, language)} – {day(last, language)}"


def summary_rows(figures: dict[str, Any], language: str) -> list[list[str]]:
    rows = []
    for key, digits in SUMMARY_ROWS:
        entry = figures["summary"][key]
        cur, prev = entry["current"], entry["previous"]
        if digits is None:
            shown = [percent(cur, language, digits=2), percent(prev, language, digits=2)]
        else:
            shown = [number(cur, language), number(prev, language)]
        change = None if cur is None or not prev else (cur - prev) / prev
        rows.append([word(key, language), *shown, percent(change, language, signed=True)])
    return rows


def post_rows(posts: Sequence[dict[str, Any]], language: str) -> list[list[str]]:
    zone_free = [datetime.fromisoformat(p["published_at"]) for p in posts]
    return [
        [
            " ".join((p["text"] or word("no_text", language)).split())[:180],
            ", ".join(p["networks"]),
            number(p["engagements"], language),
            day(at, language),
        ]
        for p, at in zip(posts, zone_free, strict=True)
    ]


def best_time_lines(figures: dict[str, Any], language: str) -> list[str]:
    names = WEEKDAYS[language]
    return [
        f"{g['network']} ({g['timezone']}): "
        + ", ".join(f"{names[s['weekday']]} {s['hour']:02d}:00" for s in g["slots"])
        for g in figures["best_times"]
    ]


def campaign_rows(figures: dict[str, Any], language: str) -> list[list[str]]:
    return [
        [
            r["key"] or word("no_campaign", language),
            number(r["clicks"], language),
            number(r["conversions"], language),
            percent(r["rate"], language),
            number(r["value"], language, digits=2),
        ]
        for r in figures["campaigns"]
    ]


def inbox_lines(figures: dict[str, Any], language: str) -> list[str]:
    inbox = figures["inbox"]
    hours = [
        None if s is None else s / 3600
        for s in (inbox["first_response_p50_seconds"], inbox["resolution_p50_seconds"])
    ]
    crisis = inbox["crisis"]
    return [
        f"{word('messages', language)}: {number(inbox['volume'], language)}",
        f"{word('first_response_p50', language)}: {number(hours[0], language, digits=1)} "
        f"{word('hours_unit', language)}",
        f"{word('resolution_p50', language)}: {number(hours[1], language, digits=1)} "
        f"{word('hours_unit', language)}",
        f"{word('crisis_alerts', language)}: {number(crisis['alerts'], language)} "
        f"({number(crisis['open'], language)} {word('crisis_open', language)})",
    ]


# --- PDF ---------------------------------------------------------------------------------


class _Pdf(FPDF):
    def __init__(self, language: str) -> None:
        super().__init__(format="A4")
        self.language = language
        self.rtl = language in RTL
        self.add_font("DejaVu", "", os.path.join(FONT_DIR, "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", os.path.join(FONT_DIR, "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(True, margin=15)
        self.set_margins(15, 15, 15)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 6, self.line(f"{word('page', self.language)} {self.page_no()}"), align="C")

    def line(self, text: str) -> str:
        return visual(text) if self.rtl or not text.isascii() else text

    def para(self, text: str, *, size: float = 10, bold: bool = False, gap: float = 5.5) -> None:
        self.set_font("DejaVu", "B" if bold else "", size)
        # Wrapped first, each line then put in display order: reordering a whole paragraph
        # would put its lines in the wrong order.
        per_line = max(20, int(PAGE_WIDTH / (size * 0.2)))
        for piece in textwrap.wrap(text, per_line) or [""]:
            self.cell(
                0,
                gap,
                self.line(piece),
                align="R" if self.rtl else "L",
                new_x="LMARGIN",
                new_y="NEXT",
            )

    def heading(self, text: str) -> None:
        self.ln(3)
        self.para(text, size=14, bold=True, gap=8)

    def table(self, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        for i, row in enumerate([header, *rows]):
            self.set_font("DejaVu", "B" if i == 0 else "", 8.5)
            cells = list(zip(row, widths, strict=True))
            if self.rtl:
                cells.reverse()  # the first column on the right
            if self.get_y() > self.h - 25:
                self.add_page()
            for text, width in cells:
                fitted = (
                    text
                    if self.get_string_width(text) < width - 2
                    else (text[: int(len(text) * (width - 4) / self.get_string_width(text))] + "…")
                )
                self.cell(width, 6.5, self.line(fitted), border=1, align="R" if self.rtl else "L")
            self.ln(6.5)

    def chart(self, title: str, png: bytes) -> None:
        if self.get_y() > self.h - 110:
            self.add_page()
        self.heading(title)
        self.image(io.BytesIO(png), w=PAGE_WIDTH)


def render_pdf(figures: dict[str, Any], drawn: Figures, *, language: str, scope: str) -> bytes:
    pdf = _Pdf(language)
    w = lambda key: word(key, language)  # noqa: E731
    pdf.set_title(w("report_title"))
    pdf.add_page()
    pdf.para(w("report_title"), size=20, bold=True, gap=12)
    pdf.para(f"{w('period')}: {period(figures, language)}")
    pdf.para(f"{w('previous_period')}: {period(figures, language, previous=True)}")
    pdf.para(f"{w('scope')}: {scope}")
    pdf.para(f"{w('time_zone')}: {figures['timezone']}")
    pdf.heading(w("summary"))
    pdf.table(
        [w("figure"), w("this_period"), w("previous_period"), w("change")],
        summary_rows(figures, language),
        [60, 40, 40, 40],
    )
    for key in ("top_posts", "bottom_posts"):
        pdf.heading(w(key))
        pdf.table(
            [w("post"), w("network"), w("engagements"), w("published")],
            post_rows(figures[key], language),
            [95, 25, 25, 35],
        )
    pdf.heading(w("best_times"))
    for text in best_time_lines(figures, language) or [w("no_data")]:
        pdf.para(text)
    pdf.heading(w("links_conversions"))
    pdf.table(
        [w("campaign"), w("clicks"), w("conversions"), w("conversion_rate"), w("value")],
        campaign_rows(figures, language),
        [60, 30, 30, 30, 30],
    )
    pdf.heading(w("inbox"))
    for text in inbox_lines(figures, language):
        pdf.para(text)
    pdf.add_page()
    for title, png in drawn.titled:
        pdf.chart(title, png)
    return bytes(pdf.output())


# --- HTML and CSV ----------------------------------------------------------------------


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(figures: dict[str, Any], drawn: Figures, *, language: str, scope: str) -> str:
    w = lambda key: html.escape(word(key, language))  # noqa: E731
    parts = [
        f'<!doctype html><html lang="{language}" dir="{"rtl" if language in RTL else "ltr"}">',
        f'<head><meta charset="utf-8"><title>{w("report_title")}</title>',
        "<style>body{font-family:'DejaVu Sans',sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
        "padding:.3em .6em}img{max-width:100%}</style></head><body>",
        f"<h1>{w('report_title')}</h1>",
        f"<p>{w('period')}: {html.escape(period(figures, language))}<br>"
        f"{w('previous_period')}: {html.escape(period(figures, language, previous=True))}<br>"
        f"{w('scope')}: {html.escape(scope)}<br>"
        f"{w('time_zone')}: {html.escape(figures['timezone'])}</p>",
        f"<h2>{w('summary')}</h2>",
        _html_table(
            [word(k, language) for k in ("figure", "this_period", "previous_period", "change")],
            summary_rows(figures, language),
        ),
    ]
    for key in ("top_posts", "bottom_posts"):
        parts.append(f"<h2>{w(key)}</h2>")
        parts.append(
            _html_table(
                [word(k, language) for k in ("post", "network", "engagements", "published")],
                post_rows(figures[key], language),
            )
        )
    parts.append(f"<h2>{w('best_times')}</h2><ul>")
    parts += [f"<li>{html.escape(t)}</li>" for t in best_time_lines(figures, language)]
    parts.append(f"</ul><h2>{w('links_conversions')}</h2>")
    parts.append(
        _html_table(
            [
                word(k, language)
                for k in ("campaign", "clicks", "conversions", "conversion_rate", "value")
            ],
            campaign_rows(figures, language),
        )
    )
    parts.append(f"<h2>{w('inbox')}</h2><ul>")
    parts += [f"<li>{html.escape(t)}</li>" for t in inbox_lines(figures, language)]
    parts.append("</ul>")
    for title, png in drawn.titled:
        data = base64.b64encode(png).decode()
        parts.append(
            f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{data}">'
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def render_csv(figures: dict[str, Any]) -> str:
    """Every figure of the report, one per line: section, key, value, previous value."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(["section", "key", "value", "previous"])
    for key, entry in figures["summary"].items():
        out.writerow(["summary", key, _cell(entry["current"]), _cell(entry["previous"])])
    for network, points in sorted(figures["engagement_by_day"].items()):
        for d, v in points:
            out.writerow(["engagements", f"{network} {d}", _cell(v), ""])
    for section in ("top_posts", "bottom_posts"):
        for p in figures[section]:
            out.writerow([section, p["post_id"], _cell(p["engagements"]), ""])
    for r in figures["campaigns"]:
        out.writerow(["clicks", r["key"] or "", r["clicks"], ""])
        out.writerow(["conversions", r["key"] or "", r["conversions"], ""])
    inbox = figures["inbox"]
    for r in inbox["languages"]:
        out.writerow(["inbox_messages", r["language"] or "", r["messages"], ""])
    for key in (
        "first_response_p50_seconds",
        "first_response_p90_seconds",
        "resolution_p50_seconds",
        "resolution_p90_seconds",
    ):
        out.writerow(["inbox", key, _cell(inbox[key]), ""])
    out.writerow(["crisis", "alerts", inbox["crisis"]["alerts"], ""])
    out.writerow(["crisis", "open", inbox["crisis"]["open"], ""])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
