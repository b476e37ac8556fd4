"""Small PNG charts without a plotting library: a heat map of the best-times grid and a
line chart of a time series. Pixels are drawn into a bytearray and encoded by hand (PNG is a
signature, an IHDR chunk, zlib-compressed scanlines in IDAT, and IEND)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

RGB = tuple[int, int, int]

BACKGROUND: RGB = (255, 255, 255)
AXIS: RGB = (120, 120, 120)
EMPTY: RGB = (235, 235, 235)
LINE_COLOURS: tuple[RGB, ...] = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40))


class Canvas:
    def __init__(self, width: int, height: int, background: RGB = BACKGROUND) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, colour: RGB) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i : i + 3] = bytes(colour)

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: RGB) -> None:
        row = bytes(colour) * max(0, min(x1, self.width) - max(x0, 0))
        for y in range(max(y0, 0), min(y1, self.height)):
            i = (y * self.width + max(x0, 0)) * 3
            self.pixels[i : i + len(row)] = row

    def line(self, x0: int, y0: int, x1: int, y1: int, colour: RGB) -> None:
        # Bresenham: integer steps, no anti-aliasing needed at this size.
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.set(x0, y0, colour)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride])
            for y in range(self.height)
        )
        return encode_png(self.width, self.height, raw)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(width: int, height: int, scanlines: bytes) -> bytes:
    """`scanlines`: for each row a filter byte (0) then width × RGB bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(scanlines, 6))
        + _chunk(b"IEND", b"")
    )


def _heat(t: float) -> RGB:
    # Pale yellow (low) to deep red (high).
    t = min(1.0, max(0.0, t))
    return (int(255 - 75 * t), int(240 - 200 * t), int(180 - 160 * t))


def heatmap_png(
    scores: Sequence[Sequence[float | None]], *, cell: int = 20, gap: int = 2,
    highlight: Sequence[tuple[int, int]] = (),
) -> bytes:
    """Rows are weekdays (Monday first), columns hours; `None` cells are drawn grey.
    Recommended slots get a dark frame."""
    rows, cols = len(scores), len(scores[0]) if scores else 0
    known = [v for row in scores for v in row if v is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    span = (hi - lo) or 1.0
    canvas = Canvas(cols * (cell + gap) + gap, rows * (cell + gap) + gap)
    for r, row in enumerate(scores):
        for c, value in enumerate(row):
            x, y = gap + c * (cell + gap), gap + r * (cell + gap)
            colour = EMPTY if value is None else _heat((value - lo) / span)
            canvas.rect(x, y, x + cell, y + cell, colour)
    for r, c in highlight:
        x, y = gap + c * (cell + gap), gap + r * (cell + gap)
        for k in range(2):
            canvas.line(x + k, y + k, x + cell - 1 - k, y + k, (40, 40, 40))
            canvas.line(x + k, y + cell - 1 - k, x + cell - 1 - k, y + cell - 1 - k, (40, 40, 40))
            canvas.line(x + k, y + k, x + k, y + cell - 1 - k, (40, 40, 40))
            canvas.line(x + cell - 1 - k, y + k, x + cell - 1 - k, y + cell - 1 - k, (40, 40, 40))
    return canvas.png()


def line_chart_png(
    series: Sequence[Sequence[tuple[float, float]]], *, width: int = 640, height: int = 320,
    margin: int = 24,
) -> bytes:
    """Each series is a list of (x, y) points (x usually epoch seconds), drawn on shared axes."""
    canvas = Canvas(width, height)
    canvas.line(margin, height - margin, width - margin, height - margin, AXIS)
    canvas.line(margin, margin, margin, height - margin, AXIS)
    points = [p for s in series for p in s]
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(0.0, min(ys)), max(ys)
        sx = (width - 2 * margin) / ((x1 - x0) or 1.0)
        sy = (height - 2 * margin) / ((y1 - y0) or 1.0)

        def at(p: tuple[float, float]) -> tuple[int, int]:
            return (
                int(margin + (p[0] - x0) * sx),
                int(height - margin - (p[1] - y0) * sy),
            )

        for i, s in enumerate(series):
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            pts = [at(p) for p in sorted(s)]
            for a, b in zip(pts, pts[1:], strict=False):
                canvas.line(*a, *b, colour)
            for x, y in pts:
                canvas.rect(x - 1, y - 1, x + 2, y + 2, colour)
    return canvas.png()
