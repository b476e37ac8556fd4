"""The media library: upload and import, preflight from the bytes, per-network checks of what
was measured, renditions behind signed URLs, and the disk and S3 stores."""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
import uuid
from fractions import Fraction
from urllib.parse import urlsplit

import av
import httpx
import numpy as np
import pytest
from fastapi import FastAPI, Response
from PIL import Image

from services.scheduler.preflight import probe
from services.scheduler.settings import SchedulerSettings
from services.scheduler.storage import S3Store, content_key
from tests.conftest import identity
from tests.scheduler.support import listening, running_scheduler
from tests.support.servers import serve


def png(width: int, height: int, color: tuple[int, int, int] = (30, 160, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def rotated_jpeg(width: int, height: int) -> bytes:
    """A JPEG stored sideways with EXIF orientation 6 (turn 90° clockwise to view)."""
    image = Image.new("RGB", (width, height), (200, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def mp4(width: int, height: int, seconds: float, fps: int = 10, audio: bool = False) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=8000) if audio else None
        for index in range(int(seconds * fps)):
            pixels = np.full((height, width, 3), (index * 7) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            samples = np.zeros((1, int(8000 * seconds)), dtype=np.float32)
            chunk = 1024
            for start in range(0, samples.shape[1], chunk):
                frame = av.AudioFrame.from_ndarray(
                    samples[:, start : start + chunk], format="fltp", layout="mono"
                )
                frame.sample_rate = 8000
                frame.pts = start
                frame.time_base = Fraction(1, 8000)
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return buffer.getvalue()


@pytest.fixture
def settings(make_settings, tmp_path):
    return make_settings(SchedulerSettings, run_workers=False, media_dir=str(tmp_path / "media"))


async def upload(client, workspace, data: bytes, name: str, **form: str) -> httpx.Response:
    return await client.post(
        "/v1/media",
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers=identity(workspace),
    )


def test_preflight_measures_images_and_video_from_the_bytes():
    facts = probe(png(1080, 1350))
    assert (facts.kind, facts.mime, facts.width, facts.height) == ("image", "image/png", 1080, 1350)
    assert facts.aspect_ratio == "4:5" and not facts.animated and not facts.rotated

    turned = probe(rotated_jpeg(200, 100))
    assert turned.rotated and (turned.width, turned.height) == (100, 200)

    frames = [Image.new("RGB", (20, 20), (i * 40, 0, 0)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    gif = probe(buffer.getvalue())
    assert gif.kind == "gif" and gif.animated

    video = probe(mp4(160, 90, seconds=2, fps=10, audio=True))
    assert video.kind == "video" and video.mime == "video/mp4"
    assert (video.width, video.height, video.aspect_ratio) == (160, 90, "16:9")
    assert video.duration_s == pytest.approx(2, abs=0.3)
    assert video.frame_rate == pytest.approx(10)
    assert video.video_codec == "mpeg4" and video.has_audio and video.audio_codec == "aac"
    assert video.bitrate and video.bitrate > 0


async def test_upload_read_list_search_and_delete(settings):
    workspace, other = uuid.uuid4(), uuid.uuid4()
    async with running_scheduler(settings) as s:
        r = await upload(
            s.client,
            workspace,
            png(1200, 628),
            "launch banner.png",
            tags="launch,blue",
            alt="Our launch",
        )
        assert r.status_code == 201, r.text
        banner = r.json()
        assert banner["kind"] == "image" and banner["mime"] == "image/png"
        assert (banner["width"], banner["height"]) == (1200, 628)
        assert banner["facts"]["format"] == "png" and banner["tags"] == ["blue", "launch"]
        assert r.headers["location"] == f"/v1/media/{banner['id']}"
        # The signed URL in the answer serves the very bytes.
        link = urlsplit(banner["url"])
        served = await s.client.get(f"{link.path}?{link.query}")
        assert served.status_code == 200 and served.content == png(1200, 628)

        for index in range(3):
            r = await upload(
                s.client, workspace, png(100 + index, 100), f"square-{index}.png", tags="square"
            )
            assert r.status_code == 201
        assert (await upload(s.client, other, png(50, 50), "theirs.png")).status_code == 201

        r = await s.client.get(f"/v1/media/{banner['id']}", headers=identity(workspace))
        assert r.status_code == 200 and r.json()["alt"] == "Our launch"
        assert (
            await s.client.get(f"/v1/media/{banner['id']}", headers=identity(other))
        ).status_code == 404

        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (
                await s.client.get("/v1/media", params=params, headers=identity(workspace))
            ).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 4 and len(set(seen)) == 4 and seen[-1] == banner["id"]

        tagged = (await s.client.get("/v1/media?tag=square", headers=identity(workspace))).json()
        assert len(tagged["items"]) == 3
        found = (await s.client.get("/v1/media?q=BANNER", headers=identity(workspace))).json()
        assert [item["id"] for item in found["items"]] == [banner["id"]]

        r = await s.client.delete(f"/v1/media/{banner['id']}", headers=identity(workspace))
        assert r.status_code == 204
        assert (
            await s.client.get(f"/v1/media/{banner['id']}", headers=identity(workspace))
        ).status_code == 404
        assert (await s.client.get(f"{link.path}?{link.query}")).status_code == 404


async def test_bad_uploads_are_refused_with_the_field(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings.model_copy(update={"media_max_bytes": 50_000})) as s:
        r = await upload(s.client, workspace, b"%PDF-1.7 not media", "notes.pdf")
        assert r.status_code == 422 and r.json()["field"] == "file"
        r = await s.client.post(
            "/v1/media",
            data={"alt": "x"},
            files={"other": ("a", b"a")},
            headers=identity(workspace),
        )
        assert r.status_code == 422 and r.json()["field"] == "file"
        noise = Image.frombytes("RGB", (300, 300), np.random.default_rng(1).bytes(300 * 300 * 3))
        big = io.BytesIO()
        noise.save(big, "PNG")
        r = await upload(s.client, workspace, big.getvalue(), "big.png")
        assert r.status_code == 413
        page = (await s.client.get("/v1/media", headers=identity(workspace))).json()
        assert page["items"] == []


async def test_import_from_a_url_goes_through_the_safe_fetcher(make_settings, tmp_path):
    origin = FastAPI()
    image = png(640, 640)

    @origin.get("/pictures/cat.png")
    async def cat() -> Response:
        return Response(image, media_type="image/png")

    workspace = uuid.uuid4()
    async with serve(origin) as base:
        host_port = urlsplit(base).netloc
        refused = make_settings(SchedulerSettings, run_workers=False, media_dir=str(tmp_path))
        async with running_scheduler(refused) as s:
            r = await s.client.post(
                "/v1/media", json={"url": f"{base}/pictures/cat.png"}, headers=identity(workspace)
            )
            assert r.status_code == 422 and r.json()["field"] == "url"
        allowed = refused.model_copy(update={"outbound_allow": host_port})
        async with running_scheduler(allowed) as s:
            r = await s.client.post(
                "/v1/media",
                json={"url": f"{base}/pictures/cat.png", "tags": ["cats"]},
                headers=identity(workspace),
            )
            assert r.status_code == 201, r.text
            item = r.json()
            assert item["name"] == "cat.png" and item["source_url"] == f"{base}/pictures/cat.png"
            assert (item["width"], item["height"], item["size_bytes"]) == (640, 640, len(image))


async def test_validation_checks_measured_facts_per_network(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        instagram = await s.add_channel(workspace_id=workspace, network="instagram")
        x = await s.add_channel(workspace_id=workspace, network="x")
        wide = (await upload(s.client, workspace, mp4(160, 90, seconds=2), "wide.mp4")).json()
        # The client's claims about the file are replaced by what was measured.
        body = {
            "text": "Watch",
            "media": [{"media_id": wide["id"], "kind": "image", "duration_s": 30}],
            "targets": [{"channel_id": str(instagram)}, {"channel_id": str(x)}],
        }
        r = await s.client.post("/v1/posts/validate", json=body, headers=identity(workspace))
        assert r.status_code == 200, r.text
        by_channel = {t["channel_id"]: t for t in r.json()["targets"]}
        [problem] = [p for p in by_channel[str(instagram)]["problems"] if p["severity"] == "error"]
        assert problem["code"] == "media_shape_not_supported" and problem["field"] == "media[0]"
        assert problem["message"] == (
            "Instagram Reels need 9:16 between 3 s and 90 s; this video is 16:9, 2 s."
        )
        assert by_channel[str(x)]["valid"] is True

        r = await s.client.post(
            "/v1/posts", json=body | {"schedule": {"now": True}}, headers=identity(workspace)
        )
        assert r.status_code == 422

        missing = {
            "text": "x",
            "media": [{"media_id": str(uuid.uuid4())}],
            "targets": [{"channel_id": str(x)}],
        }
        r = await s.client.post("/v1/posts/validate", json=missing, headers=identity(workspace))
        assert r.status_code == 422 and r.json()["field"] == "media[0].media_id"


async def test_mechanical_fixes_become_a_rendition_per_network(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        instagram = await s.add_channel(workspace_id=workspace, network="instagram")
        bluesky = await s.add_channel(workspace_id=workspace, network="bluesky")
        square = (await upload(s.client, workspace, png(1080, 1080), "square.png")).json()
        body = {
            "text": "New colours",
            "media": [{"media_id": square["id"], "alt": "A blue square"}],
            "targets": [{"channel_id": str(instagram)}, {"channel_id": str(bluesky)}],
        }
        r = await s.client.post("/v1/posts/validate", json=body, headers=identity(workspace))
        checks = {t["channel_id"]: t for t in r.json()["targets"]}
        assert checks[str(instagram)]["valid"] is True
        [notice] = checks[str(instagram)]["problems"]
        assert notice["code"] == "media_rendition" and notice["severity"] == "warning"
        assert "converted from image/png to JPEG" in notice["message"]
        assert checks[str(bluesky)]["problems"] == []

        # What the dispatcher hands the publisher for each network.
        links = s.app.state.media_links
        stored = {
            "media_id": square["id"],
            "kind": "image",
            "mime": "image/png",
            "size_bytes": square["size_bytes"],
        }
        for network, wanted in (("instagram", "JPEG"), ("bluesky", "PNG")):
            url = urlsplit(links.for_network(stored, network, {})["url"])
            served = await s.client.get(f"{url.path}?{url.query}")
            assert served.status_code == 200
            assert Image.open(io.BytesIO(served.content)).format == wanted
        # A forged or expired signature opens nothing.
        url = urlsplit(links.url(square["id"], rendition="jpeg"))
        forged = url.query.replace("signature=", "signature=0")
        assert (await s.client.get(f"{url.path}?{forged}")).status_code == 403
        expired = urlsplit(links.url(square["id"], now=0))
        assert (await s.client.get(f"{expired.path}?{expired.query}")).status_code == 403

        turned = (await upload(s.client, workspace, rotated_jpeg(300, 200), "turned.jpg")).json()
        assert (turned["width"], turned["height"]) == (200, 300)
        stored = {"media_id": turned["id"], "kind": "image", "mime": "image/jpeg", "rotated": True}
        url = urlsplit(links.for_network(stored, "x", {})["url"])
        upright = Image.open(io.BytesIO((await s.client.get(f"{url.path}?{url.query}")).content))
        assert upright.size == (200, 300) and upright.getexif().get(0x0112, 1) == 1


async def test_media_in_use_by_a_scheduled_post_cannot_be_deleted(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        item = (await upload(s.client, workspace, png(400, 300), "chart.png")).json()
        body = {
            "text": "Numbers",
            "media": [{"media_id": item["id"]}],
            "targets": [{"channel_id": str(x)}],
            "schedule": {"at": "2031-01-01T10:00:00", "timezone": "UTC"},
        }
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 201, r.text
        stored = r.json()
        assert stored["media"][0]["media_id"] == item["id"] and stored["media"][0]["width"] == 400
        r = await s.client.delete(f"/v1/media/{item['id']}", headers=identity(workspace))
        assert r.status_code == 409 and r.json()["field"] == "media_id"
        await s.client.delete(f"/v1/posts/{stored['id']}", headers=identity(workspace))
        r = await s.client.delete(f"/v1/media/{item['id']}", headers=identity(workspace))
        assert r.status_code == 204


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def s3_server():
    """moto's S3-compatible server, as a separate process speaking the S3 REST API."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None:
                    pytest.fail("the S3 server stopped before it answered")
                import time

                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_s3_store_keeps_content_addressed_bytes(make_settings, s3_server):
    store = S3Store(
        bucket="herald-media",
        endpoint_url=s3_server,
        region="us-east-1",
        access_key="test",
        secret_key="test",
    )
    await asyncio.to_thread(store.client.create_bucket, Bucket="herald-media")
    settings = make_settings(
        SchedulerSettings,
        run_workers=False,
        media_store="s3",
        media_s3_bucket="herald-media",
        media_s3_endpoint_url=s3_server,
        media_s3_access_key="test",
        media_s3_secret_key="test",
    )
    workspace = uuid.uuid4()
    data = png(320, 240)
    async with running_scheduler(settings) as s:
        item = (await upload(s.client, workspace, data, "s3.png")).json()
        assert await store.get(content_key(data)) == data
        url = urlsplit(item["url"])
        assert (await s.client.get(f"{url.path}?{url.query}")).content == data
        assert (
            await s.client.delete(f"/v1/media/{item['id']}", headers=identity(workspace))
        ).status_code == 204
        assert await store.get(content_key(data)) is None


async def test_a_due_post_hands_the_publisher_a_signed_url_to_its_rendition(
    make_settings, tmp_path
):
    settings = make_settings(
        SchedulerSettings, media_dir=str(tmp_path), public_url="https://herald.example.com"
    )
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        instagram = await s.add_channel(workspace_id=workspace, network="instagram")
        x = await s.add_channel(workspace_id=workspace, network="x")
        item = (await upload(s.client, workspace, png(1080, 1080), "tile.png")).json()
        body = {
            "text": "Tiles",
            "media": [{"media_id": item["id"], "alt": "A tile"}],
            "targets": [{"channel_id": str(instagram)}, {"channel_id": str(x)}],
            "schedule": {"now": True},
        }
        assert (
            await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        ).status_code == 201
        async with asyncio.timeout(30):
            while len(heard.envelopes) < 2:
                heard.arrived.clear()
                await heard.arrived.wait()
        for envelope in heard.envelopes:
            due = envelope.parsed()
            [media] = due.media
            url = urlsplit(media.url)
            assert f"{url.scheme}://{url.netloc}" == "https://herald.example.com"
            assert url.path.startswith(f"/media/{item['id']}/") and "signature=" in url.query
            served = await s.client.get(f"{url.path}?{url.query}")
            wanted = "JPEG" if due.network == "instagram" else "PNG"
            assert Image.open(io.BytesIO(served.content)).format == wanted, due.network
