"""What a media file is, measured from its bytes (never from what the client says it is), and
the derived images a network needs when the fix is mechanical.

Images are opened with Pillow, videos with PyAV (FFmpeg's demuxers); both run in a worker
thread so a large file does not hold the event loop. Video is only ever probed: Herald does
not transcode, so a video a network refuses is refused with the rule, never changed.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import ValidationFailed

# Pillow refuses (DecompressionBombError) images past twice this many pixels; a single post
# image is far below it on every network.
Image.MAX_IMAGE_PIXELS = 80_000_000

_IMAGE_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
    "MPO": "image/jpeg",
}
_VIDEO_MIME = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "matroska": "video/x-matroska",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """Everything preflight learnt of one file."""

    kind: str  # image | video | gif
    mime: str
    format: str
    size_bytes: int
    width: int
    height: int
    animated: bool = False
    # EXIF orientation other than "upright": the pixels must be turned before display.
    rotated: bool = False
    duration_s: float | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bitrate: int | None = None
    has_audio: bool = False

    @property
    def aspect_ratio(self) -> str:
        return ratio_name(self.width, self.height)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["aspect_ratio"] = self.aspect_ratio
        return data


def ratio_name(width: int, height: int) -> str:
    """ "16:9", "9:16", "1:1", "4:5"… or the closest small fraction for an odd size."""
    if width <= 0 or height <= 0:
        return "0:0"
    fraction = Fraction(width, height).limit_denominator(20)
    return f"{fraction.numerator}:{fraction.denominator}"


def probe(data: bytes) -> Facts:
    """The file's facts; ValidationFailed (field "file") when it is neither an image nor a
    video Pillow or PyAV can read."""
    image = _probe_image(data)
    if image is not None:
        return image
    video = _probe_video(data)
    if video is not None:
        return video
    raise ValidationFailed(
        "The file is not an image or a video Herald can read (JPEG, PNG, GIF, WebP, MP4, MOV, "
        "WebM).",
        field="file",
    )


def _probe_image(data: bytes) -> Facts | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format or ""
            if image_format not in _IMAGE_MIME:
                return None
            width, height = image.size
            animated = bool(getattr(image, "is_animated", False))
            orientation = image.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None
    # A quarter turn swaps what the viewer sees as width and height.
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return Facts(
        kind="gif" if image_format == "GIF" and animated else "image",
        mime=_IMAGE_MIME[image_format],
        format=image_format.lower(),
        size_bytes=len(data),
        width=width,
        height=height,
        animated=animated,
        rotated=orientation not in (0, 1),
    )


def _probe_video(data: bytes) -> Facts | None:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            video = next(iter(container.streams.video), None)
            if video is None:
                return None
            audio = next(iter(container.streams.audio), None)
            names = container.format.name.split(",")
            duration = _duration(container, video)
            rate = video.average_rate or video.guessed_rate
            return Facts(
                kind="video",
                mime=_container_mime(names, container.format.name),
                format=names[0],
                size_bytes=len(data),
                width=video.codec_context.width,
                height=video.codec_context.height,
                duration_s=duration,
                frame_rate=round(float(rate), 3) if rate else None,
                video_codec=video.codec_context.name,
                audio_codec=audio.codec_context.name if audio is not None else None,
                bitrate=container.bit_rate or None,
                has_audio=audio is not None,
            )
    except (av.error.FFmpegError, ValueError, StopIteration):
        return None


def _duration(container: Any, video: Any) -> float | None:
    if container.duration is not None:
        return round(container.duration / av.time_base, 3)
    if video.duration is not None and video.time_base is not None:
        return round(float(video.duration * video.time_base), 3)
    return None


def _container_mime(names: list[str], full: str) -> str:
    # FFmpeg's "mov,mp4,m4a,3gp,3g2,mj2" demuxer reads both; the brand decides what it is.
    if "mp4" in names and "mov" in names:
        return "video/mp4"
    for name in names:
        if name in _VIDEO_MIME:
            return _VIDEO_MIME[name]
    return f"video/{full.split(',')[0]}"


# --- renditions -----------------------------------------------------------------------------


def render(data: bytes, *, upright: bool, to_jpeg: bool, max_bytes: int | None) -> bytes:
    """The image turned upright (EXIF orientation), as JPEG, or smaller, as asked. Shrinking
    keeps the aspect ratio and steps down in size (then JPEG quality) until the bytes fit."""
    with Image.open(io.BytesIO(data)) as opened:
        source_format = opened.format
        image = ImageOps.exif_transpose(opened) if upright else opened.copy()
    as_jpeg = to_jpeg or (source_format == "JPEG")
    if as_jpeg and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out_format = "JPEG" if as_jpeg else (source_format or "PNG")
    quality = 90
    scale = 1.0
    while True:
        candidate = image
        if scale < 1.0:
            size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
            candidate = image.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if out_format == "JPEG":
            candidate.save(buffer, "JPEG", quality=quality, optimize=True)
        else:
            candidate.save(buffer, out_format, optimize=True)
        encoded = buffer.getvalue()
        if max_bytes is None or len(encoded) <= max_bytes or scale < 0.05:
            return encoded
        if out_format == "JPEG" and quality > 70:
            quality -= 10
        else:
            scale *= 0.8
