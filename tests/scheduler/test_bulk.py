"""CSV import with per-target options and several media per row, and its dry run."""

import uuid

from sqlalchemy import text

from services.scheduler.models import Post, Target
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler

VIDEO = "https://cdn.example.com/v.mp4"


async def outbox_types(s) -> list[str]:
    """The events written for the relay (no relay runs in these tests: they stay there)."""
    async with s.runtime.sessions() as session:
        rows = await session.execute(text("SELECT routing_key FROM scheduler.outbox ORDER BY id"))
        return [row.routing_key for row in rows]


async def test_rows_carry_target_options_and_several_media(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        yt = await s.add_channel(workspace_id=workspace, network="youtube")
        tiktok = await s.add_channel(workspace_id=workspace, network="tiktok")
        x = await s.add_channel(workspace_id=workspace, network="x")
        csv = (
            "text,channel_id,at,media_url,media_kind,alt,option.title,option.privacy_level\n"
            f"Our launch,{yt},2030-07-01T09:00:00,{VIDEO},video,,Launch day,\n"
            f"Our launch,{tiktok},2030-07-01T09:00:00,{VIDEO},video,,,SELF_ONLY\n"
            f"Two pictures,{x},,https://cdn.example.com/a.jpg|https://cdn.example.com/b.jpg,"
            "image,first|second,,\n"
        )
        r = await s.client.post(
            "/v1/posts/import",
            content=csv.encode(),
            headers={**identity(workspace), "content-type": "text/csv"},
        )
        assert r.status_code == 201, r.text
        youtube, tik, pictures = r.json()["posts"]
        assert youtube["targets"][0]["options"] == {"title": "Launch day"}
        assert tik["targets"][0]["options"] == {"privacy_level": "SELF_ONLY"}
        assert [(m["url"][-5:], m["kind"], m["alt"]) for m in pictures["media"]] == [
            ("a.jpg", "image", "first"),
            ("b.jpg", "image", "second"),
        ]


async def test_dry_run_answers_each_row_and_saves_nothing(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        yt = await s.add_channel(workspace_id=workspace, network="youtube")
        tiktok = await s.add_channel(workspace_id=workspace, network="tiktok")
        x = await s.add_channel(workspace_id=workspace, network="x")
        csv = (
            "text,channel_id,at,media_url,media_kind,option.title,option.privacy_level\n"
            f"fine,{x},2030-07-01T09:00:00,,,,\n"  # row 1
            f"no title,{yt},2030-07-01T09:00:00,{VIDEO},video,,\n"  # row 2
            f"bad privacy,{tiktok},2030-07-01T09:00:00,{VIDEO},video,,EVERYONE\n"  # row 3
            f"title on X,{x},2030-07-01T09:00:00,,,A title,\n"  # row 4: X has no title
            f"{'y' * 300},{x},,,,,\n"  # row 5: over X's limit
        )
        headers = {**identity(workspace), "content-type": "text/csv"}
        r = await s.client.post(
            "/v1/posts/import",
            params={"dry_run": "true"},
            content=csv.encode(),
            headers=headers,
        )
        assert r.status_code == 200, r.text
        verdict = r.json()
        assert verdict["valid"] is False
        assert verdict["rows"] == 5 and verdict["valid_rows"] == 1
        got = sorted((e["row"], e["column"], e["code"]) for e in verdict["errors"])
        assert got == [
            (2, "option.title", "title_required"),
            (3, "option.privacy_level", "option_invalid"),
            (4, "option.title", "option_not_supported"),
            (5, "text", "text_too_long"),
        ], verdict["errors"]
        assert await s.count(Post) == 0 and await s.count(Target) == 0

        # The same file for real: refused as a whole, with the same rows named.
        r = await s.client.post("/v1/posts/import", content=csv.encode(), headers=headers)
        assert r.status_code == 422
        assert sorted(e["row"] for e in r.json()["errors"]) == [2, 3, 4, 5]

        # A clean dry run says so, and still keeps nothing: no row, no event.
        clean = "text,channel_id,at\n" + f"fine,{x},2030-07-01T09:00:00\n"
        r = await s.client.post(
            "/v1/posts/import",
            params={"dry_run": "true"},
            content=clean.encode(),
            headers=headers,
        )
        assert r.status_code == 200 and r.json()["valid"] is True, r.text
        assert r.json()["posts"] == 1
        assert await s.count(Post) == 0
        assert await outbox_types(s) == []
        r = await s.client.post("/v1/posts/import", content=clean.encode(), headers=headers)
        assert r.status_code == 201
        assert await outbox_types(s) == ["post.scheduled"]
