"""Sample media generated in code, and the magic-number checks the fake networks apply."""

from __future__ import annotations

import functools
import struct
import zlib


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


@functools.cache
def sample_jpeg() -> bytes:
    """An 8×8 mid-grey baseline JPEG.

    A flat block has a zero DC difference and no AC terms, so each Huffman table needs one
    symbol (category 0 / end-of-block) and the scan is two bits.
    """
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + bytes([1] * 64)
    sof = struct.pack(">BHHB", 8, 8, 8, 1) + bytes([1, 0x11, 0])
    dht_dc = b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    dht_ac = b"\x10" + bytes([1] + [0] * 15) + b"\x00"
    sos = bytes([1, 1, 0x00, 0, 63, 0])
    return (
        b"\xff\xd8"
        + _segment(0xE0, app0)
        + _segment(0xDB, dqt)
        + _segment(0xC0, sof)
        + _segment(0xC4, dht_dc)
        + _segment(0xC4, dht_ac)
        + _segment(0xDA, sos)
        + b"\x3f"
        + b"\xff\xd9"
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def sample_png() -> bytes:
    width = height = 8
    raw = b"".join(b"\x00" + bytes([0x1D, 0xA1, 0xF2]) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload) + 8) + kind + payload


@functools.cache
def sample_mp4() -> bytes:
    """A minimal ISO BMFF file: ftyp, a movie header declaring one second, an empty mdat."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, 1000, 1000)
        + struct.pack(">IH10x", 0x10000, 0x100)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2),
    )
    return ftyp + _box(b"moov", mvhd) + _box(b"mdat", b"")


SAMPLES = {
    "sample.jpg": ("image/jpeg", sample_jpeg),
    "sample.png": ("image/png", sample_png),
    "sample.mp4": ("video/mp4", sample_mp4),
}


def sniff(data: bytes) -> tuple[str, str] | None:
    """(kind, mime) from the leading bytes, or None for something no network would take."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if data.startswith(b"GIF8"):
        return "gif", "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image", "image/webp"
    if data[4:8] == b"ftyp":
        return "video", "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    return None


def kind_from_url(url: str) -> str | None:
    path = url.split("?", 1)[0].lower()
    for ext, kind in ((".jpg", "image/jpeg"), (".jpeg", "image/jpeg"), (".png", "image/png"),
                      (".gif", "image/gif"), (".webp", "image/webp"), (".mp4", "video/mp4"),
                      (".mov", "video/quicktime")):
        if path.endswith(ext):
            return kind
    return None
