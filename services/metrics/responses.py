"""One report, several representations: JSON by default, CSV, PNG or SVG when the client asks."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from services.metrics.charts import Chart, Format
from services.metrics.wording import LANGUAGES
from shared.errors import ValidationFailed


def wants(request: Request, media_type: str) -> bool:
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == media_type for part in accept.split(","))


def csv_response(
    *, columns: Sequence[str], rows: Iterable[Sequence[Any] | dict[str, Any]], filename: str
) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, dict) else list(row)
        writer.writerow(["" if v is None else v for v in values])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def chart_format(request: Request) -> Format | None:
    """ "png" or "svg" when the client asked for a chart, else None."""
    if wants(request, "image/png"):
        return "png"
    if wants(request, "image/svg+xml"):
        return "svg"
    return None


def chart_language(request: Request, language: str | None) -> str:
    """The language charts are labelled in: the `language` asked for, else the first of
    `Accept-Language` that reports speak, else English."""
    if language is not None:
        if language not in LANGUAGES:
            raise ValidationFailed(
                f"Charts are drawn in: {', '.join(LANGUAGES)}.", field="language"
            )
        return language
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower().split("-")[0]
        if tag in LANGUAGES:
            return tag
    return "en"


@dataclass(frozen=True, slots=True)
class ChartAsked:
    """A chart the client asked for instead of the report: its format and its labels' language."""

    fmt: Format
    language: str

    async def response(self, draw: Callable[[], Chart]) -> Response:
        # Drawing takes tens of milliseconds of CPU: off the event loop.
        chart = await asyncio.to_thread(draw)
        return Response(chart.data, media_type=chart.media_type)


def chart_asked(request: Request, language: str | None) -> ChartAsked | None:
    """The chart asked for by `Accept` (labels in `language`, else as `chart_language` says),
    or None when the client wants the report itself."""
    fmt = chart_format(request)
    if fmt is None:
        return None
    return ChartAsked(fmt, chart_language(request, language))


CHART_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "image/png": {}, "image/svg+xml": {}}}
}
