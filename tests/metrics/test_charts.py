"""Every chart in every report language: drawn with all its glyphs, as PNG and SVG."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta

import pytest

from services.metrics import charts
from services.metrics.wording import LANGUAGES, visual, word
from tests.metrics.images import colours, read_png, read_svg

DAY = date(2026, 11, 1)


def _all_charts(language: str, fmt: charts.Format) -> dict[str, charts.Chart]:
    days = [DAY + timedelta(days=i) for i in range(30)]
    return {
        "engagement": charts.engagement_over_time(
            {
                "x": [(d, 10.0 * i) for i, d in enumerate(days)],
                "facebook": [(d, 4.0 * i) for i, d in enumerate(days)],
            },
            language=language,
            timezone="Asia/Jerusalem",
            fmt=fmt,
        ),
        "best_times": charts.best_times_heatmap(
            [[(h * (d + 1)) % 7 / 7 for h in range(24)] for d in range(7)],
            slots=[(0, 9), (4, 18)],
            language=language,
            timezone="Asia/Jerusalem",
            channel="x",
            fmt=fmt,
        ),
        "top_posts": charts.top_posts_bars(
            [("מבצע חורף! 20% הנחה", 120.0, "x"), ("Vetrarútsala í dag", 80.0, "facebook")],
            language=language,
            fmt=fmt,
        ),
        "campaigns": charts.campaign_clicks(
            [("winter", 120, 7), ("חורף", 40, 2), (None, 10, 0)], language=language, fmt=fmt
        ),
        "inbox": charts.inbox_by_language(
            [("he", 40, -0.2), ("is", 30, 0.4), (None, 5, None)], language=language, fmt=fmt
        ),
        "responses": charts.response_times(
            [(d, 1800.0 + 60 * i, 7200.0) for i, d in enumerate(days[:10])],
            language=language,
            timezone="Asia/Jerusalem",
            fmt=fmt,
        ),
        "post": charts.post_series(
            [("x", [(datetime(2026, 11, 1, h, tzinfo=UTC), 100.0 * h) for h in range(1, 9)])],
            metric="views",
            language=language,
            timezone="Atlantic/Reykjavik",
            fmt=fmt,
        ),
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_chart_is_drawn_in_each_language_with_every_glyph(language):
    with warnings.catch_warnings():
        # matplotlib warns "Glyph … missing from font(s)" for a character it cannot draw.
        warnings.simplefilter("error")
        pngs = _all_charts(language, "png")
        svgs = _all_charts(language, "svg")
    for name, chart in pngs.items():
        assert chart.media_type == "image/png"
        image = read_png(chart.data)
        assert image.size[0] >= 800 and colours(image) > 30, name
    for name, chart in svgs.items():
        assert chart.media_type == "image/svg+xml"
        assert len(read_svg(chart.data).findall(".//{http://www.w3.org/2000/svg}use")) > 20, name


def test_the_same_chart_differs_by_language_and_is_stable():
    english = _all_charts("en", "png")["best_times"].data
    hebrew = _all_charts("he", "png")["best_times"].data
    assert english != hebrew
    assert _all_charts("en", "svg")["campaigns"].data == _all_charts("en", "svg")["campaigns"].data


def test_right_to_left_text_is_put_in_display_order_for_the_pdf():
    title = word("report_title", "he")
    assert visual(title) == title[::-1]  # one Hebrew run: reversed whole
    assert visual("(ללא טקסט)") == "(טסקט אלל)"  # brackets mirrored, not only moved
    assert visual("מבצע 20% היום") == "םויה 20% עצבמ"  # numbers keep their own order
    assert visual("Þú og ég") == "Þú og ég"
