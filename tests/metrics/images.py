"""Reads back the charts the service draws."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from PIL import Image


def read_png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def colours(image: Image.Image) -> int:
    """How many distinct colours the image holds (a blank one has one)."""
    found = image.getcolors(maxcolors=1 << 20)
    return len(found) if found is not None else 1 << 20


def pixels_near(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 24) -> int:
    return sum(
        1
        for pixel in image.get_flattened_data()
        if all(abs(a - b) <= tolerance for a, b in zip(pixel, rgb, strict=True))
    )


def read_svg(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root
