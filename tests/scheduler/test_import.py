import uuid

from services.scheduler.models import Post, Target
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler


async def test_csv_import_creates_every_row_with_the_post_rules(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x", timezone="Europe/London")
        li = await s.add_channel(workspace_id=workspace, network="linkedin")
        csv = (
            "text,channel_id,at,timezone,tags,campaign,media_url\r\n"
            f'"Hello, world",{x},2030-07-01T09:00:00,,launch|summer,q3,'
            "https://cdn.example.com/a.jpg\r\n"
            f"Same news for LinkedIn,{li},2030-07-01T09:00:00,America/New_York,launch,q3,\r\n"
            f"A draft,{x},,,,,\r\n"
        )
        r = await s.client.post(
            "/v1/posts/import",
            content=csv.encode(),
            headers={**identity(workspace, "editor"), "content-type": "text/csv"},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["created"] == 3
        first, second, draft = body["posts"]
        assert first["text"] == "Hello, world" and first["tags"] == ["launch", "summer"]
        assert first["campaign"] == "q3" and first["media"][0]["url"].endswith("a.jpg")
        # The channel's zone (London, BST) and an explicit one (New York, EDT).
        assert first["targets"][0]["due_at"].startswith("2030-07-01T08:00:00")
        assert second["targets"][0]["due_at"].startswith("2030-07-01T13:00:00")
        assert draft["status"] == "draft" and draft["targets"][0]["due_at"] is None

        # Multipart upload works the same way.
        r = await s.client.post(
            "/v1/posts/import",
            files={"file": ("posts.csv", f"text,channel_id\nfrom a file,{x}\n", "text/csv")},
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        assert r.json()["created"] == 1
        assert await s.count(Post) == 4


async def test_csv_import_is_all_or_nothing_with_errors_per_row(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        foreign = await s.add_channel(workspace_id=uuid.uuid4(), network="x")
        csv = (
            "text,channel_id,at,timezone\n"
            f"fine,{x},2030-07-01T09:00:00,\n"  # row 1: valid, must not be saved
            f"{'y' * 300},{x},2030-07-01T09:00:00,\n"  # row 2: over X's limit
            f"past,{x},2020-01-01T09:00:00,\n"  # row 3: in the past
            f"zone,{x},2030-07-01T09:00:00,Mars/Base\n"  # row 4: no such zone
            f"theirs,{foreign},2030-07-01T09:00:00,\n"  # row 5: another workspace's channel
            "junk,not-a-uuid,,\n"  # row 6: not a channel id
            f"when,{x},next tuesday,\n"  # row 7: not a time
        )
        r = await s.client.post(
            "/v1/posts/import",
            content=csv.encode(),
            headers={**identity(workspace), "content-type": "text/csv"},
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        by_row = {}
        for error in problem["errors"]:
            by_row.setdefault(error["row"], set()).add(error["column"])
        assert by_row == {
            2: {"text"},
            3: {"at"},
            4: {"timezone"},
            5: {"channel_id"},
            6: {"channel_id"},
            7: {"at"},
        }, problem["errors"]
        assert problem["field"] == "rows[2].text"
        assert await s.count(Post) == 0 and await s.count(Target) == 0

        for bad_csv, field in [
            ("", "body"),
            ("text,channel,when\nx,y,z\n", "header"),
            ("text,channel_id\n", "body"),
        ]:
            r = await s.client.post(
                "/v1/posts/import",
                content=bad_csv.encode(),
                headers={**identity(workspace), "content-type": "text/csv"},
            )
            assert r.status_code == 422 and r.json()["field"] == field, r.text
        r = await s.client.post(
            "/v1/posts/import",
            content=f"text,channel_id\nx,{x}\n".encode(),
            headers={**identity(workspace, "analyst"), "content-type": "text/csv"},
        )
        assert r.status_code == 403


async def test_rows_sharing_a_post_key_are_one_post_with_a_variant_per_channel(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        li = await s.add_channel(workspace_id=workspace, network="linkedin")
        bsky = await s.add_channel(workspace_id=workspace, network="bluesky")
        csv = (
            "post,text,channel_id,at,tags,media_url\n"
            f"launch,Short for X,{x},2030-07-01T09:00:00,launch,\n"
            f"launch,A longer story for LinkedIn,{li},2030-07-01T09:00:00,b2b,"
            "https://cdn.example.com/li.jpg\n"
            f",On its own,{bsky},2030-07-02T09:00:00,,\n"
        )
        headers = {**identity(workspace), "content-type": "text/csv"}
        r = await s.client.post("/v1/posts/import", content=csv.encode(), headers=headers)
        assert r.status_code == 201, r.text
        launch, alone = r.json()["posts"]
        assert r.json()["created"] == 2
        assert launch["text"] == "Short for X" and launch["tags"] == ["launch", "b2b"]
        variants = {t["channel_id"]: t for t in launch["targets"]}
        assert variants[str(x)]["text"] == "Short for X" and variants[str(x)]["media"] is None
        assert variants[str(li)]["text"] == "A longer story for LinkedIn"
        assert variants[str(li)]["media"][0]["url"] == "https://cdn.example.com/li.jpg"
        assert {t["due_at"][:16] for t in launch["targets"]} == {"2030-07-01T09:00"}
        assert [t["channel_id"] for t in alone["targets"]] == [str(bsky)]
        assert await s.count(Post) == 2 and await s.count(Target) == 3

        # The X row of a group over X's limit, and a group whose rows disagree on the time:
        # each problem names its own row; nothing is saved.
        bad = (
            "post,text,channel_id,at\n"
            f"a,fine,{li},2030-07-01T09:00:00\n"
            f"a,{'y' * 300},{x},2030-07-01T09:00:00\n"
            f"b,one,{li},2030-07-01T09:00:00\n"
            f"b,two,{x},2030-07-01T10:00:00\n"
        )
        r = await s.client.post("/v1/posts/import", content=bad.encode(), headers=headers)
        assert r.status_code == 422, r.text
        got = sorted((e["row"], e["column"], e["code"]) for e in r.json()["errors"])
        assert got == [(2, "text", "text_too_long"), (4, "at", "post_time_differs")]
        assert await s.count(Post) == 2 and await s.count(Target) == 3
