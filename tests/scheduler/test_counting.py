"""The network counting rules as the scheduler applies them at save time (`/v1/posts/validate`).

The expected lengths are worked out by hand from ../shared/NETWORKS.md, piece by piece:

  piece                     code points  graphemes  UTF-8 bytes  X weight
  Hebrew with niqqud             7           4          14          7   (U+05xx weigh 1)
  日本語 (CJK)                    3           3           9          6   (weighs 2 each)
  👍🏽 (thumbs up + skin tone)      2           1           8          2   (an emoji sequence is 2)
  👨‍👩‍👧‍👦 (ZWJ family)                7           1          25          2
  Þórður (Icelandic)             6           6           9          6
  a 60-character URL            60          60          60         23   (X and Mastodon: 23)
  5 spaces                       5           5           5          5
"""

import uuid

from services.scheduler.models import Post
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler

# Shin, SHIN DOT, QAMATS (not in canonical order: NFC reorders the marks, the count stays),
# lamed, vav, holam, final mem.
HEBREW = "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
THUMBS = "\U0001f44d\U0001f3fd"
URL = "https://example.com/" + "a" * 40
TEXT = " ".join([HEBREW, "日本語", THUMBS, FAMILY, "Þórður", URL])

EXPECTED = {
    # network: (length, limit)
    "x": (7 + 6 + 2 + 2 + 6 + 23 + 5, 280),
    "bluesky": (4 + 3 + 1 + 1 + 6 + 60 + 5, 300),
    "mastodon": (4 + 3 + 1 + 1 + 6 + 23 + 5, 500),
    # Threads: an emoji costs its UTF-8 bytes, anything else one per code point.
    "threads": (7 + 3 + 8 + 25 + 6 + 60 + 5, 500),
}


async def validate(s, workspace, targets):
    r = await s.client.post(
        "/v1/posts/validate",
        json={"text": TEXT, "targets": targets},
        headers=identity(workspace),
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_tricky_text_is_counted_exactly_per_network(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channels = {
            network: await s.add_channel(workspace_id=workspace, network=network)
            for network in EXPECTED
        }
        result = await validate(s, workspace, [{"channel_id": str(c)} for c in channels.values()])
        measured = {t["network"]: (t["length"], t["limit"]) for t in result["targets"]}
        assert measured == EXPECTED
        assert result["valid"] is True


async def test_limits_in_weighted_characters_graphemes_and_bytes(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        bsky = await s.add_channel(workspace_id=workspace, network="bluesky")
        result = await validate(
            s,
            workspace,
            [
                # 140 CJK characters weigh exactly 280 on X.
                {"channel_id": str(x), "text": "日" * 140},
                # 300 families are 300 graphemes (the limit) but 7,500 bytes (over 3,000).
                {"channel_id": str(bsky), "text": FAMILY * 300},
            ],
        )
        on_x, on_bsky = result["targets"]
        assert (on_x["length"], on_x["valid"]) == (280, True)
        assert on_bsky["length"] == 300
        assert [p["code"] for p in on_bsky["problems"]] == ["text_too_many_bytes"]

        result = await validate(
            s,
            workspace,
            [
                {"channel_id": str(x), "text": "日" * 140 + "a"},
                {"channel_id": str(bsky), "text": THUMBS * 301},
            ],
        )
        on_x, on_bsky = result["targets"]
        assert on_x["length"] == 281
        assert [p["code"] for p in on_x["problems"]] == ["text_too_long"]
        assert on_bsky["length"] == 301
        assert "text_too_long" in [p["code"] for p in on_bsky["problems"]]

        # Saving the same post is refused naming the variant; nothing is saved.
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "ok",
                "targets": [{"channel_id": str(x), "text": "日" * 140 + "a"}],
                "schedule": {"at": "2030-01-01T09:00:00", "timezone": "UTC"},
            },
            headers=identity(workspace),
        )
        assert r.status_code == 422
        assert r.json()["field"] == "targets[0].text"
        assert await s.count(Post) == 0
