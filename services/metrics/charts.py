"""The charts of analytics and reports, drawn with matplotlib (Agg: no display needed).

Every chart has a title, labelled axes with their units and a legend where there is more
than one series, in the workspace's language; dates are in the workspace's time zone.
matplotlib (3.11 and later) lays text out with libraqm, which applies the Unicode
bidirectional algorithm: Hebrew labels are handed over in logical order and drawn right to
left. Figures are built with the object API, not pyplot, so charts may be drawn in worker
threads at the same time.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")
# SVG element ids from a fixed salt rather than a random one: same chart, same bytes.
matplotlib.rcParams["svg.hashsalt"] = "herald"

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from services.metrics.wording import (  # noqa: E402
    RTL,
    WEEKDAYS,
    number,
    short_day,
    word,
)

Format = Literal["png", "svg"]
MEDIA_TYPES: dict[Format, str] = {"png": "image/png", "svg": "image/svg+xml"}
FONT = "DejaVu Sans"  # bundled with matplotlib; covers Latin, Icelandic and Hebrew
NETWORK_COLOURS = {
    "facebook": "#1877F2",
    "instagram": "#C13584",
    "x": "#14171A",
    "linkedin": "#0A66C2",
    "tiktok": "#25F4EE",
    "youtube": "#FF0000",
    "threads": "#7A7A7A",
    "mastodon": "#6364FF",
    "bluesky": "#0085FF",
}


@dataclass(frozen=True)
class Chart:
    data: bytes
    media_type: str


def _figure(width: float = 8.0, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _t(key: str, language: str) -> str:
    return word(key, language)


def _style(ax: Any, *, title: str, xlabel: str, ylabel: str, language: str) -> None:
    ax.set_title((title), fontfamily=FONT, fontsize=12)
    ax.set_xlabel((xlabel), fontfamily=FONT)
    ax.set_ylabel((ylabel), fontfamily=FONT)
    if language in RTL:
        # Hebrew readers start from the right: the value axis goes there.
        ax.yaxis.set_label_position("right")
        ax.yaxis.tick_right()
    ax.grid(True, alpha=0.3)


def _no_data(ax: Any, language: str) -> None:
    ax.text(
        0.5,
        0.5,
        _t("no_data", language),
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontfamily=FONT,
        color="#777777",
    )


def _encode(fig: Figure, fmt: Format) -> Chart:
    buffer = io.BytesIO()
    # No creation date in the file: the same chart always gives the same bytes.
    fig.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return Chart(buffer.getvalue(), MEDIA_TYPES[fmt])


def _count_axis(ax: Any, language: str) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: number(v, language)))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def engagement_over_time(
    series: dict[str, Sequence[tuple[date, float]]],
    *,
    language: str,
    timezone: str,
    fmt: Format = "png",
) -> Chart:
    """Engagements per day, one line per network; `series` days are in `timezone`."""
    fig = _figure()
    ax = fig.add_subplot()
    days = sorted({d for points in series.values() for d, _ in points})
    for network, points in sorted(series.items()):
        by_day = dict(points)
        ax.plot(
            days,
            [by_day.get(d, 0.0) for d in days],
            marker="o",
            markersize=3,
            label=network,
            color=NETWORK_COLOURS.get(network),
        )
    if days:
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _p: short_day(_num_to_date(v), language))
        )
        ax.xaxis.set_major_locator(MaxNLocator(8))
        ax.legend(
            title=_t("network", language),
            loc="upper left" if language not in RTL else "upper right",
            prop={"family": FONT},
        )
    else:
        _no_data(ax, language)
    _style(
        ax,
        title=word("engagement_over_time", language),
        xlabel=f"{word('date', language)} ({timezone})",
        ylabel=word("engagements_per_day", language),
        language=language,
    )
    _count_axis(ax, language)
    return _encode(fig, fmt)


def _num_to_date(value: float) -> date:
    from matplotlib.dates import num2date

    return num2date(value).date()


def best_times_heatmap(
    scores: Sequence[Sequence[float | None]],
    *,
    slots: Sequence[tuple[int, int]],
    language: str,
    timezone: str,
    channel: str | None = None,
    fmt: Format = "png",
) -> Chart:
    """Rows are weekdays (Monday first), columns hours in `timezone`; empty cells are grey;
    recommended slots are framed."""
    import numpy as np

    fig = _figure(9.0, 3.8)
    ax = fig.add_subplot()
    grid = np.array([[np.nan if v is None else v for v in row] for row in scores], dtype=float)
    cmap = matplotlib.colormaps["YlOrRd"].with_extremes(bad="#EBEBEB")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, aspect="auto")
    days = WEEKDAYS[language]
    ax.set_yticks(range(7), [(d) for d in days], fontfamily=FONT)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    for row, col in slots:
        ax.add_patch(
            matplotlib.patches.Rectangle(
                (col - 0.5, row - 0.5),
                1,
                1,
                fill=False,
                edgecolor="#202020",
                linewidth=2,
                label=(word("recommended", language)),
            )
        )
    bar = fig.colorbar(image, ax=ax, location="left" if language in RTL else "right")
    bar.set_label(_t("score", language), fontfamily=FONT)
    if slots:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles[:1],
            labels[:1],
            loc="upper right",
            prop={"family": FONT},
            bbox_to_anchor=(1.0, 1.22),
        )
    title = word("best_times", language) + (f" – {channel}" if channel else "")
    _style(
        ax,
        title=title,
        xlabel=f"{word('hour', language)} ({timezone})",
        ylabel=word("weekday", language),
        language=language,
    )
    ax.grid(False)
    return _encode(fig, fmt)


def top_posts_bars(
    posts: Sequence[tuple[str, float, str]],
    *,
    language: str,
    metric_label: str | None = None,
    fmt: Format = "png",
) -> Chart:
    """(label, value, network) per post, best first."""
    fig = _figure(8.0, 0.5 + 0.45 * max(len(posts), 3))
    ax = fig.add_subplot()
    labels = [(_clip(label, 40)) for label, _, _ in posts]
    values = [value for _, value, _ in posts]
    colours = [NETWORK_COLOURS.get(network, "#4C72B0") for _, _, network in posts]
    ax.barh(range(len(posts)), values, color=colours)
    ax.set_yticks(range(len(posts)), labels, fontfamily=FONT, fontsize=8)
    ax.invert_yaxis()  # best at the top
    if language in RTL:
        ax.invert_xaxis()  # bars grow from the right
    if not posts:
        _no_data(ax, language)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: number(v, language)))
    _style(
        ax,
        title=word("top_posts", language),
        xlabel=metric_label or word("engagements", language),
        ylabel=word("post", language),
        language=language,
    )
    return _encode(fig, fmt)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def campaign_clicks(
    rows: Sequence[tuple[str | None, int, int]], *, language: str, fmt: Format = "png"
) -> Chart:
    """(campaign, human clicks, conversions) per campaign, side by side."""
    import numpy as np

    fig = _figure()
    ax = fig.add_subplot()
    names = [(c or word("no_campaign", language)) for c, _, _ in rows]
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [c for _, c, _ in rows], 0.4, label=_t("clicks", language), color="#4C72B0")
    ax.bar(
        x + 0.2, [v for _, _, v in rows], 0.4, label=_t("conversions", language), color="#DD8452"
    )
    ax.set_xticks(x, names, fontfamily=FONT, rotation=20 if len(rows) > 4 else 0)
    if rows:
        ax.legend(prop={"family": FONT})
    else:
        _no_data(ax, language)
    _style(
        ax,
        title=word("clicks_conversions", language),
        xlabel=word("campaign", language),
        ylabel=word("count", language),
        language=language,
    )
    _count_axis(ax, language)
    return _encode(fig, fmt)


def inbox_by_language(
    rows: Sequence[tuple[str | None, int, float | None]], *, language: str, fmt: Format = "png"
) -> Chart:
    """(message language, messages, mean sentiment) per language: volume as bars, sentiment
    as points on a second axis."""
    fig = _figure()
    ax = fig.add_subplot()
    names = [(lang or word("unknown_language", language)) for lang, _, _ in rows]
    x = list(range(len(rows)))
    ax.bar(x, [n for _, n, _ in rows], color="#55A868", label=_t("messages", language))
    ax.set_xticks(x, names, fontfamily=FONT)
    mood = ax.twinx()
    mood.plot(
        x,
        [s if s is not None else float("nan") for _, _, s in rows],
        "D",
        color="#C44E52",
        label=_t("sentiment", language),
    )
    mood.set_ylim(-1, 1)
    mood.set_ylabel(_t("sentiment", language), fontfamily=FONT)
    if rows:
        handles = ax.get_legend_handles_labels()
        more = mood.get_legend_handles_labels()
        ax.legend(
            handles[0] + more[0], handles[1] + more[1], prop={"family": FONT}, loc="upper left"
        )
    else:
        _no_data(ax, language)
    _style(
        ax,
        title=word("inbox_by_language", language),
        xlabel=word("language", language),
        ylabel=word("messages", language),
        language=language,
    )
    if language in RTL:  # the sentiment axis goes to the other side
        mood.yaxis.set_label_position("left")
        mood.yaxis.tick_left()
    _count_axis(ax, language)
    return _encode(fig, fmt)


def response_times(
    days: Sequence[tuple[date, float | None, float | None]],
    *,
    language: str,
    timezone: str,
    fmt: Format = "png",
) -> Chart:
    """First-response time per day: (day, median seconds, 90th percentile seconds)."""
    fig = _figure()
    ax = fig.add_subplot()
    if days:
        xs = [d for d, _, _ in days]
        ax.plot(
            xs,
            [_hours(p50) for _, p50, _ in days],
            marker="o",
            markersize=3,
            label=_t("median", language),
            color="#4C72B0",
        )
        ax.plot(
            xs,
            [_hours(p90) for _, _, p90 in days],
            marker="s",
            markersize=3,
            linestyle="--",
            label=_t("p90", language),
            color="#C44E52",
        )
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _p: short_day(_num_to_date(v), language))
        )
        ax.xaxis.set_major_locator(MaxNLocator(8))
        ax.legend(prop={"family": FONT})
    else:
        _no_data(ax, language)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: number(v, language, digits=1)))
    _style(
        ax,
        title=word("response_times", language),
        xlabel=f"{word('date', language)} ({timezone})",
        ylabel=word("hours", language),
        language=language,
    )
    return _encode(fig, fmt)


def _hours(seconds: float | None) -> float:
    return float("nan") if seconds is None else seconds / 3600


def post_series(
    lines: Sequence[tuple[str, Sequence[tuple[datetime, float]]]],
    *,
    metric: str,
    language: str,
    timezone: str,
    fmt: Format = "png",
) -> Chart:
    """A post's metric over time, one line per target (labelled by its network)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    fig = _figure()
    ax = fig.add_subplot()
    for label, points in lines:
        ordered = sorted(points)
        ax.plot(
            [p[0].astimezone(zone).replace(tzinfo=None) for p in ordered],
            [p[1] for p in ordered],
            marker="o",
            markersize=3,
            label=label,
            color=NETWORK_COLOURS.get(label),
        )
    if lines:
        ax.legend(title=_t("network", language), prop={"family": FONT})
        fig.autofmt_xdate()
    else:
        _no_data(ax, language)
    _style(
        ax,
        title=f"{metric} – {word('post', language)}",
        xlabel=f"{word('date', language)} ({timezone})",
        ylabel=metric,
        language=language,
    )
    _count_axis(ax, language)
    return _encode(fig, fmt)
