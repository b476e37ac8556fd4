"""GET /v1/posts: every post, drafts included, filtered, searched in any language, paginated."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler


@pytest.fixture
def settings(make_settings):
    return make_settings(SchedulerSettings, run_workers=False)


async def _post(s, workspace, role="owner", **body):
    r = await s.client.post("/v1/posts", json=body, headers=identity(workspace, role))
    assert r.status_code == 201, r.text
    return r.json()


async def _ids(s, workspace, **params):
    r = await s.client.get("/v1/posts", params=params, headers=identity(workspace))
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


async def test_list_has_drafts_and_every_filter_narrows_it(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        li = await s.add_channel(workspace_id=workspace, network="linkedin")
        draft = await _post(
            s, workspace, "editor", text="a draft", targets=[{"channel_id": str(x)}]
        )
        review = await _post(s, workspace, text="to review", targets=[{"channel_id": str(x)}])
        r = await s.client.post(f"/v1/posts/{review['id']}/submit", headers=identity(workspace))
        assert r.status_code == 200, r.text
        soon = await _post(
            s,
            workspace,
            text="soon on X",
            targets=[{"channel_id": str(x)}],
            schedule={"at": "2030-07-01T09:00:00", "timezone": "UTC"},
            tags=["launch"],
            campaign="summer",
        )
        later = await _post(
            s,
            workspace,
            text="later on LinkedIn",
            targets=[{"channel_id": str(li)}],
            schedule={"at": "2030-09-01T09:00:00", "timezone": "UTC"},
            tags=["b2b"],
            campaign="autumn",
        )
        # Someone else's post is never listed.
        other = uuid.uuid4()
        other_x = await s.add_channel(workspace_id=other, network="x")
        await _post(s, other, text="not yours", targets=[{"channel_id": str(other_x)}])

        everything = {draft["id"], review["id"], soon["id"], later["id"]}
        assert await _ids(s, workspace) == everything
        assert await _ids(s, workspace, status="draft") == {draft["id"]}
        assert await _ids(s, workspace, status="in_review") == {review["id"]}
        assert await _ids(s, workspace, status="scheduled") == {soon["id"], later["id"]}
        assert await _ids(s, workspace, channel_id=str(li)) == {later["id"]}
        assert await _ids(s, workspace, network="x") == {draft["id"], review["id"], soon["id"]}
        assert await _ids(s, workspace, campaign="summer") == {soon["id"]}
        assert await _ids(s, workspace, tag="b2b") == {later["id"]}
        assert await _ids(s, workspace, author="key-editor") == {draft["id"]}
        window = {"due_from": "2030-08-01T00:00:00Z", "due_to": "2030-10-01T00:00:00Z"}
        assert await _ids(s, workspace, **window) == {later["id"]}
        # One target must match both: X is not due in that window.
        assert await _ids(s, workspace, network="x", **window) == set()
        now = datetime.now(UTC)
        created = {
            "created_from": (now - timedelta(hours=1)).isoformat(),
            "created_to": (now + timedelta(hours=1)).isoformat(),
        }
        assert await _ids(s, workspace, **created) == everything
        assert await _ids(s, workspace, created_to=(now - timedelta(hours=1)).isoformat()) == set()

        # Newest first, two at a time, every post exactly once.
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            r = await s.client.get("/v1/posts", params=params, headers=identity(workspace))
            page = r.json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [later["id"], soon["id"], review["id"], draft["id"]]

        for params, field in [
            ({"status": "sideways"}, "status"),
            ({"cursor": "not-a-cursor"}, "cursor"),
            ({"due_from": "2030-01-01T00:00:00"}, "due_from"),
            ({"created_from": "2030-01-02T00:00:00Z", "created_to": "2030-01-01T00:00:00Z"},
             "created_to"),
            ({"q": "   "}, "q"),
            ({"limit": 1000}, "limit"),
        ]:  # fmt: skip
            r = await s.client.get("/v1/posts", params=params, headers=identity(workspace))
            assert r.status_code == 422, (params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert field in r.json()["field"], (params, r.json())


async def test_search_finds_hebrew_with_prefixes_and_icelandic_inflections(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        li = await s.add_channel(workspace_id=workspace, network="linkedin")

        async def draft(text, variant=None):
            targets = [{"channel_id": str(x)}]
            if variant is not None:
                targets.append({"channel_id": str(li), "text": variant})
            return (await _post(s, workspace, text=text, targets=targets))["id"]

        hebrew = await draft("והמוצר החדש שלנו יוצא מחר")
        pointed = await draft("שָׁלוֹם לכולם")
        variant = await draft("Big news", variant="הפתעה לילדים בחנות")
        icelandic = await draft("Við riðum hestinum upp í ÞÓRSMÖRK í gær")
        english = await draft("Relaunched: the launches of 100% of our products")

        async def found(q):
            return await _ids(s, workspace, q=q)

        # Hebrew: the word under its prefixes (ו+ה, ל, ב), in a variant too.
        assert await found("מוצר") == {hebrew}
        assert await found("ילד") == {variant}
        assert await found("חנות") == {variant}
        # Points are ignored on both sides.
        assert await found("שלום") == {pointed}
        assert await found("שָׁלוֹם") == {pointed}
        # Every word must occur (AND).
        assert await found("מוצר מחר") == {hebrew}
        assert await found("מוצר ילד") == set()
        # Icelandic: the stem finds the inflected form, case folds, accents do not.
        assert await found("hest") == {icelandic}
        assert await found("þórsmörk") == {icelandic}
        assert await found("thorsmork") == set()
        assert await found("hestur") == set()
        # English: substrings, no stemming.
        assert await found("launch") == {english}
        assert await found("running") == set()
        # A LIKE wildcard in the query is a character, not "anything".
        assert await found("100%") == {english}
        assert await found("%") == {english}
        assert await found("_") == set()

        # An edit is searched by its new words, not its old ones.
        r = await s.client.patch(
            f"/v1/posts/{icelandic}",
            json={"text": "Börnin léku sér"},
            headers={**identity(workspace), "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        assert await found("hest") == set()
        assert await found("BÖRN") == {icelandic}


async def test_posts_export_as_csv_and_import_again(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        yt = await s.add_channel(
            workspace_id=workspace, network="youtube", timezone="Europe/London"
        )
        x = await s.add_channel(workspace_id=workspace, network="x")
        video = {"url": "https://cdn.example.com/v.mp4", "kind": "video"}
        await _post(
            s,
            workspace,
            text="Watch this",
            media=[video],
            targets=[
                {"channel_id": str(yt), "options": {"title": "Launch video",
                                                    "privacy_status": "unlisted"}},
                {"channel_id": str(x), "text": "On X", "media": []},
            ],
            schedule={"at": "2030-07-01T09:00:00"},
            tags=["launch", "video"],
        )  # fmt: skip
        r = await s.client.get("/v1/posts", headers={**identity(workspace), "accept": "text/csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        by_channel = {row["channel_id"]: row for row in rows}
        assert set(by_channel) == {str(yt), str(x)}
        assert by_channel[str(yt)]["option.title"] == "Launch video"
        assert by_channel[str(yt)]["option.privacy_status"] == "unlisted"
        assert by_channel[str(yt)]["at"] == "2030-07-01T09:00:00"
        assert by_channel[str(yt)]["timezone"] == ""  # as asked: each channel's own zone
        assert by_channel[str(yt)]["media_url"] == video["url"]
        assert by_channel[str(x)]["text"] == "On X" and by_channel[str(x)]["media_url"] == ""
        assert by_channel[str(x)]["tags"] == "launch|video"
        assert {row["status"] for row in rows} == {"scheduled"}

        r = await s.client.post(
            "/v1/posts/import",
            content=r.text.encode(),
            headers={**identity(workspace), "content-type": "text/csv"},
        )
        assert r.status_code == 201, r.text
        [again] = r.json()["posts"]
        targets = {t["channel_id"]: t for t in again["targets"]}
        assert targets[str(yt)]["options"] == {
            "title": "Launch video",
            "privacy_status": "unlisted",
        }
        assert targets[str(x)]["text"] == "On X"
        assert again["tags"] == ["launch", "video"]
