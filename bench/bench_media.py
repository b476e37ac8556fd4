"""Media library throughput: `POST /v1/media` (multipart upload, preflight from the bytes,
content-addressed store, row) against probing the same files with raw Pillow / PyAV.

The files are generated in this process: JPEG photos of 1080×1350 (noise, so they do not
compress to nothing) and short H.264-less MPEG-4 clips of 320×568 with audio. They are uploaded
by 8 concurrent clients to `python -m services.scheduler` under uvicorn (the disk store in the
run's results folder); the baseline opens the same bytes in this process with Pillow
(`Image.open`, size, EXIF) and PyAV (`av.open`, streams, duration), one after another.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
import uuid
from fractions import Fraction

import av
import httpx
import numpy as np
from PIL import Image

from bench.context import BenchContext
from bench.harness import Figure, free_port, median, service_process
from shared.auth import INTERNAL_TOKEN_HEADER, PRINCIPAL_HEADER, ROLE_HEADER, WORKSPACE_HEADER

NAME = "media"
TOKEN = "bench-internal-token"
CONCURRENCY = 8
JPEG_MAGIC = b"\xff\xd8"


def photo(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (1350, 1080, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def clip(seed: int, seconds: float = 2.0, fps: int = 15) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 320, 568, "yuv420p"
        audio = container.add_stream("aac", rate=8000)
        for index in range(int(seconds * fps)):
            pixels = np.full((568, 320, 3), (seed * 31 + index * 7) % 255, dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for start in range(0, int(8000 * seconds), 1024):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = 8000, start, Fraction(1, 8000)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return buffer.getvalue()


def raw_probe(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            _ = image.size, image.format, image.getexif().get(0x0112)
            return
    except OSError:
        pass
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        _ = stream.codec_context.width, stream.average_rate, container.duration
        _ = [s.codec_context.name for s in container.streams.audio]


async def upload_all(
    client: httpx.AsyncClient, headers: dict[str, str], files: list[bytes]
) -> float:
    queue = list(enumerate(files))

    async def worker() -> None:
        while queue:
            index, data = queue.pop()
            extension = "jpg" if data.startswith(JPEG_MAGIC) else "mp4"
            name = f"file-{index}.{extension}"
            r = await client.post("/v1/media", files={"file": (name, data)}, headers=headers)
            if r.status_code != 201:
                raise RuntimeError(f"POST /v1/media answered {r.status_code}: {r.text}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(files) / (time.perf_counter() - started)


async def run(ctx: BenchContext) -> list[Figure]:
    photos, clips = (40, 10) if ctx.quick else (200, 50)
    files = [photo(i) for i in range(photos)] + [clip(i) for i in range(clips)]
    total_mb = sum(map(len, files)) / 1e6
    port = free_port()
    workspace = uuid.uuid4()
    headers = {
        INTERNAL_TOKEN_HEADER: TOKEN,
        WORKSPACE_HEADER: str(workspace),
        ROLE_HEADER: "editor",
        PRINCIPAL_HEADER: "bench",
    }
    uploads: list[float] = []
    raw: list[float] = []
    with tempfile.TemporaryDirectory(dir=ctx.results_dir) as store:
        env = ctx.service_env("scheduler", port, internal_token=TOKEN, media_dir=store)
        async with (
            service_process(
                "scheduler", port, env=env, log=ctx.results_dir / "media-scheduler.log"
            ),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client,
        ):
            for _ in range(ctx.rounds()):
                uploads.append(await upload_all(client, headers, files))
                started = time.perf_counter()
                for data in files:
                    raw_probe(data)
                raw.append(len(files) / (time.perf_counter() - started))
    return [
        Figure(
            NAME,
            "media uploaded and preflighted (files/s, 8 clients)",
            "files/s",
            median(uploads),
            "raw Pillow/PyAV probe of the same files, in process",
            median(raw),
            "≥ 20 files/s",
            rounds=uploads,
            baseline_rounds=raw,
            notes=(
                f"{photos} JPEG 1080×1350 and {clips} MP4 320×568 2 s clips with audio, "
                f"{total_mb:.1f} MB per round; disk store; each upload is HTTP multipart, "
                "probe, SHA-256, write, row"
            ),
        )
    ]
