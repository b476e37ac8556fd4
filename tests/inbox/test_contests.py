"""Contests: each rule judged on comments that came in through the signed webhooks, the
commitment and the draw, bad input refused with the field named."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from shared.events import ChannelDisconnected
from tests.conftest import identity
from tests.inbox.conftest import X_SECRET, Inbox, x_sign
from tests.inbox.test_handling import of_type
from tests.inbox.test_meta_webhooks import APPS, send

PAGE = "104000000000777"
FB_POST = f"{PAGE}_900"
IG_ACCOUNT = "17841400000000777"
IG_MEDIA = "17900000000000777"
X_ACCOUNT = "1500000000000000001"
X_POST = "1500000000000000100"


@pytest.fixture
async def meta(start_inbox):
    apps = {**APPS, "x": {"client_secret": X_SECRET}}
    async with start_inbox(network_apps=apps) as inbox:
        yield inbox


class Feed:
    """A Facebook post and an Instagram media of the workspace, and comments sent to them as
    Meta sends them (signed webhooks), at the times the test chooses."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.sent = 0
        self.fb_post: uuid.UUID
        self.ig_post: uuid.UUID

    async def setup(self) -> Feed:
        fb = await self.inbox.connect_channel(network="facebook", external_id=PAGE)
        ig = await self.inbox.connect_channel(network="instagram", external_id=IG_ACCOUNT)
        await self.inbox.wait_for(lambda: self._count("SELECT count(*) FROM inbox.channels", 2))
        self.fb_post = await self.inbox.publish_post(
            channel_id=fb, network="facebook", external_id=FB_POST
        )
        self.ig_post = await self.inbox.publish_post(
            channel_id=ig, network="instagram", external_id=IG_MEDIA
        )
        await self.inbox.wait_for(
            lambda: self._count("SELECT count(*) FROM inbox.published_posts", 2)
        )
        return self

    async def _count(self, sql: str, n: int) -> bool:
        return (await self.inbox.fetch(sql))[0][0] >= n

    async def facebook(self, who: str, name: str, text: str, at: datetime) -> None:
        self.sent += 1
        await send(
            self.inbox,
            "facebook",
            {
                "object": "page",
                "entry": [
                    {
                        "id": PAGE,
                        "time": int(at.timestamp()),
                        "changes": [
                            {
                                "field": "feed",
                                "value": {
                                    "item": "comment",
                                    "verb": "add",
                                    "comment_id": f"{FB_POST}_{self.sent}",
                                    "post_id": FB_POST,
                                    "parent_id": FB_POST,
                                    "from": {"id": who, "name": name},
                                    "message": text,
                                    "created_time": int(at.timestamp()),
                                },
                            }
                        ],
                    }
                ],
            },
        )

    async def instagram(self, who: str, username: str, text: str, at: datetime) -> None:
        self.sent += 1
        await send(
            self.inbox,
            "instagram",
            {
                "object": "instagram",
                "entry": [
                    {
                        "id": IG_ACCOUNT,
                        "time": int(at.timestamp()),
                        "changes": [
                            {
                                "field": "comments",
                                "value": {
                                    "id": f"1790000000{self.sent:07d}",
                                    "text": text,
                                    "from": {"id": who, "username": username},
                                    "media": {"id": IG_MEDIA, "media_product_type": "FEED"},
                                },
                            }
                        ],
                    }
                ],
            },
        )

    async def settled(self) -> None:
        async def done() -> bool:
            return await self._count(
                "SELECT count(*) FROM inbox.messages WHERE direction = 'inbound'", self.sent
            )

        await self.inbox.wait_for(done)


def window(minutes: int = 60) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=minutes), now + timedelta(minutes=minutes)


async def create(inbox: Inbox, **body: Any) -> Any:
    starts, ends = window()
    payload = {"starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "winners": 1, **body}
    return await inbox.client.post(
        "/v1/contests", json=payload, headers=identity(inbox.workspace_id)
    )


async def created(inbox: Inbox, **body: Any) -> dict[str, Any]:
    r = await create(inbox, **body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def entries(inbox: Inbox, contest_id: str) -> dict[str, list[str]]:
    """Author → the reasons their comment(s) did not qualify (empty: qualifies)."""
    r = await inbox.client.get(
        f"/v1/contests/{contest_id}/entries", headers=identity(inbox.workspace_id)
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["qualifying"] == sum(1 for e in page["items"] if e["qualifies"])
    out: dict[str, list[str]] = {}
    for e in page["items"]:
        out.setdefault(e["author"], []).extend(r.split(":")[0] for r in e["reasons"])
    return out


async def test_keyword_or_hashtag_must_be_in_the_comment(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    now = datetime.now(UTC)
    await feed.facebook("9001", "Anna", "#Ísveisla! pistasíu takk", now)
    await feed.facebook("9002", "Bjorn", "ísveisla án myllumerkis", now)
    await feed.facebook("9003", "Cecilia", "#ísveislan er best", now)
    await feed.instagram("9004", "dagur", "Súkkulaði #ÍSVEISLA", now)
    await feed.settled()
    contest = await created(
        meta, post_ids=[str(feed.fb_post), str(feed.ig_post)], rules={"keyword": "#ísveisla"}
    )
    assert await entries(meta, contest["id"]) == {
        "Anna": [],
        "Bjorn": ["keyword"],
        "Cecilia": ["keyword"],
        "dagur": [],
    }
    # A plain word matches it alone or as a hashtag, never inside another word.
    contest = await created(
        meta, post_ids=[str(feed.fb_post), str(feed.ig_post)], rules={"keyword": "ísveisla"}
    )
    assert await entries(meta, contest["id"]) == {
        "Anna": [],
        "Bjorn": [],
        "Cecilia": ["keyword"],
        "dagur": [],
    }


async def test_mentions_count_distinct_other_accounts(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    now = datetime.now(UTC)
    await feed.facebook("9001", "Anna", "@jon @gudrun komið með!", now)
    await feed.facebook("9002", "Bjorn", "@jon @Jon @JON", now)
    await feed.instagram("9003", "cecilia", "@cecilia @team.anna @kari", now)
    await feed.instagram("9004", "dagur", "dagur@example.com @elin @fannar", now)
    await feed.settled()
    contest = await created(
        meta,
        post_ids=[str(feed.fb_post), str(feed.ig_post)],
        rules={"mentions": 2, "staff": ["team.anna"], "exclude_staff": True},
    )
    # Bjorn names one account three times; Cecilia names herself and a staff account.
    assert await entries(meta, contest["id"]) == {
        "Anna": [],
        "Bjorn": ["mentions"],
        "cecilia": ["mentions"],
        "dagur": [],
    }


async def test_entry_window_in_the_workspace_time_zone(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    zone = ZoneInfo("Asia/Jerusalem")
    now = datetime.now(UTC)
    starts_local = (now - timedelta(minutes=10)).astimezone(zone).replace(tzinfo=None)
    ends_local = (now + timedelta(minutes=10)).astimezone(zone).replace(tzinfo=None)
    await feed.facebook("9001", "Early", "x", now - timedelta(minutes=11))
    await feed.facebook("9002", "InTime", "x", now)
    await feed.instagram("9003", "late", "x", now + timedelta(minutes=11))
    await feed.settled()
    r = await meta.client.post(
        "/v1/contests",
        headers=identity(meta.workspace_id, timezone="Asia/Jerusalem"),
        json={
            "post_ids": [str(feed.fb_post), str(feed.ig_post)],
            "winners": 1,
            "starts_at": starts_local.isoformat(),
            "ends_at": ends_local.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    contest = r.json()
    # Local wall-clock times of the workspace's zone, kept as the instants they name.
    assert datetime.fromisoformat(contest["starts_at"]) == starts_local.replace(tzinfo=zone)
    assert contest["timezone"] == "Asia/Jerusalem"
    assert await entries(meta, contest["id"]) == {
        "Early": ["window"],
        "InTime": [],
        "late": ["window"],
    }


async def test_staff_and_blocked_authors_are_left_out(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    now = datetime.now(UTC)
    await feed.facebook("9001", "Anna", "x", now)
    await feed.facebook("9002", "Sam Staff", "x", now)
    await feed.instagram("9003", "samstaff", "x", now)
    await feed.instagram("9004", "rut.team", "x", now)
    await feed.facebook("9005", "Troll Toni", "x", now)
    await feed.instagram("9006", "spambot", "x", now)
    await feed.settled()
    posts = [str(feed.fb_post), str(feed.ig_post)]
    rules = {
        "staff": ["Sam Staff", "instagram:@rut.team"],
        "blocked": ["facebook:9005", "spambot"],
        "one_entry_per_author": False,
    }
    contest = await created(meta, post_ids=posts, rules=rules)
    assert await entries(meta, contest["id"]) == {
        "Anna": [],
        "Sam Staff": ["staff"],
        "samstaff": ["staff"],
        "rut.team": ["staff"],
        "Troll Toni": ["blocked"],
        "spambot": ["blocked"],
    }
    # A network prefix scopes the entry: the same handle on Facebook is someone else.
    contest = await created(meta, post_ids=posts, rules={**rules, "staff": ["facebook:rut.team"]})
    assert (await entries(meta, contest["id"]))["rut.team"] == []
    contest = await created(meta, post_ids=posts, rules={**rules, "exclude_staff": False})
    assert (await entries(meta, contest["id"]))["Sam Staff"] == []


async def test_one_entry_per_author_across_networks(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    now = datetime.now(UTC)
    await feed.facebook("9001", "Anna Berg", "#ís", now - timedelta(minutes=3))
    await feed.facebook("9001", "Anna Berg", "#ís again", now - timedelta(minutes=2))
    await feed.instagram("8001", "annaberg", "#ís from instagram", now - timedelta(minutes=1))
    # Two different Facebook people who share a name are two entrants.
    await feed.facebook("9002", "Jon Jonsson", "#ís", now)
    await feed.facebook("9003", "Jon Jonsson", "#ís", now)
    # A first comment that does not qualify does not use up the author's entry.
    await feed.instagram("8004", "kari", "no keyword", now - timedelta(minutes=2))
    await feed.instagram("8004", "kari", "#ís", now)
    await feed.settled()
    posts = [str(feed.fb_post), str(feed.ig_post)]
    contest = await created(meta, post_ids=posts, rules={"keyword": "#ís"})
    got = await entries(meta, contest["id"])
    assert got == {
        "Anna Berg": ["duplicate"],
        "annaberg": ["duplicate"],
        "Jon Jonsson": [],
        "kari": ["keyword"],
    }
    r = await meta.client.get(
        f"/v1/contests/{contest['id']}/entries", headers=identity(meta.workspace_id)
    )
    anna = [e for e in r.json()["items"] if e["author"] == "Anna Berg"]
    assert [e["qualifies"] for e in anna] == [True, False]  # the earliest one counts
    contest = await created(
        meta, post_ids=posts, rules={"keyword": "#ís", "one_entry_per_author": False}
    )
    assert (await entries(meta, contest["id"]))["annaberg"] == []


async def test_account_age_where_the_network_says(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    # Meta does not say when a commenter's account was created: refused, with the reason.
    r = await create(meta, post_ids=[str(feed.fb_post)], rules={"min_account_age_days": 30})
    assert r.status_code == 422
    assert r.json()["field"] == "rules.min_account_age_days"
    assert "facebook" in r.json()["detail"]

    channel = await meta.connect_channel(network="x", external_id=X_ACCOUNT)
    x_post = await meta.publish_post(channel_id=channel, network="x", external_id=X_POST)
    await meta.wait_for(
        lambda: meta.fetch("SELECT 1 FROM inbox.published_posts WHERE external_id = $1", X_POST)
    )

    def tweet(n: int, name: str, created: datetime) -> dict[str, Any]:
        return {
            "id_str": f"18000000000000000{n:02d}",
            "text": "@brand #ís",
            "created_at": datetime.now(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "user": {
                "id_str": f"17000000000000000{n:02d}",
                "screen_name": name,
                "name": name,
                "created_at": created.strftime("%a %b %d %H:%M:%S +0000 %Y"),
            },
            "in_reply_to_status_id_str": X_POST,
            "in_reply_to_user_id_str": X_ACCOUNT,
        }

    now = datetime.now(UTC)
    body = orjson.dumps(
        {
            "for_user_id": X_ACCOUNT,
            "tweet_create_events": [
                tweet(1, "old_timer", now - timedelta(days=400)),
                tweet(2, "fresh_burner", now - timedelta(days=2)),
            ],
        }
    )
    assert (await meta.client.post("/hooks/x", content=body, headers=x_sign(body))).is_success
    await meta.wait_for(
        lambda: meta.fetch("SELECT 1 FROM inbox.messages WHERE author_handle = 'fresh_burner'")
    )
    contest = await created(meta, post_ids=[str(x_post)], rules={"min_account_age_days": 30})
    assert await entries(meta, contest["id"]) == {"old_timer": [], "fresh_burner": ["account_age"]}


async def drawn_contest(inbox: Inbox, feed: Feed, **body: Any) -> dict[str, Any]:
    """A contest that ends a moment from now, drawn by hand once it has."""
    starts = datetime.now(UTC) - timedelta(hours=1)
    ends = datetime.now(UTC) + timedelta(seconds=1)
    r = await inbox.client.post(
        "/v1/contests",
        headers=identity(inbox.workspace_id),
        json={
            "post_ids": [str(feed.fb_post), str(feed.ig_post)],
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            **body,
        },
    )
    assert r.status_code == 201, r.text
    contest_id = r.json()["id"]

    async def draw() -> Any:
        r = await inbox.client.post(
            f"/v1/contests/{contest_id}/draw", headers=identity(inbox.workspace_id)
        )
        return r.json() if r.status_code == 200 else None

    return dict(await inbox.wait_for(draw))


async def test_earlier_winners_of_the_series_cannot_win_again(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    now = datetime.now(UTC) - timedelta(minutes=5)
    for n, name in enumerate(("Anna", "Bjorn", "Cecilia", "Dagur")):
        await feed.facebook(f"900{n}", name, "#ís", now)
    await feed.instagram("8001", "anna", "#ís", now)
    await feed.settled()
    first = await drawn_contest(meta, feed, winners=2, rules={"one_entry_per_author": False})
    won = {w["author"] for w in first["winners"]}
    assert len(won) == 2
    contest = await created(
        meta,
        post_ids=[str(feed.fb_post), str(feed.ig_post)],
        rules={"exclude_winners_of": [first["id"]], "one_entry_per_author": False},
    )
    got = await entries(meta, contest["id"])
    for author, reasons in got.items():
        # Anna on Facebook and anna on Instagram are one person, whichever of them won.
        same = author.lower() in {w.lower() for w in won}
        assert reasons == (["earlier_winner"] if same else []), (author, won)
    r = await create(
        meta, post_ids=[str(feed.fb_post)], rules={"exclude_winners_of": [str(uuid.uuid4())]}
    )
    assert r.status_code == 422 and r.json()["field"] == "rules.exclude_winners_of"


async def test_commitment_draw_and_reveal(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    now = datetime.now(UTC) - timedelta(minutes=5)
    for n in range(6):
        await feed.facebook(f"90{n}", f"Fan {n}", "#ís", now)
    await feed.facebook("999", "No Keyword", "hello", now)
    await feed.settled()
    seen = await meta.spy()
    starts = datetime.now(UTC) - timedelta(hours=1)
    ends = datetime.now(UTC) + timedelta(minutes=30)
    r = await meta.client.post(
        "/v1/contests",
        headers=identity(meta.workspace_id),
        json={
            "post_ids": [str(feed.fb_post)],
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "winners": 2,
            "reserves": 2,
            "rules": {"keyword": "#ís"},
        },
    )
    assert r.status_code == 201, r.text
    contest = r.json()
    assert len(contest["commitment"]) == 64 and contest["seed"] is None
    assert contest["winners"] is None and contest["status"] == "open"
    early = await meta.client.post(
        f"/v1/contests/{contest['id']}/draw", headers=identity(meta.workspace_id)
    )
    assert early.status_code == 409 and early.json()["field"] == "ends_at"

    result = await drawn_contest(meta, feed, winners=2, reserves=2, rules={"keyword": "#ís"})
    assert hashlib.sha256(result["seed"].encode()).hexdigest() == result["commitment"]
    assert len(result["winners"]) == 2 and len(result["reserves"]) == 2
    picked = [p["author"] for p in result["winners"] + result["reserves"]]
    assert len(set(picked)) == 4 and "No Keyword" not in picked
    assert result["qualifying"] == 6 and result["status"] == "drawn"
    again = await meta.client.post(
        f"/v1/contests/{result['id']}/draw", headers=identity(meta.workspace_id)
    )
    assert again.status_code == 409
    [closed] = await meta.wait_for(lambda: of_type(seen, "contest.closed"))
    [drawn] = await meta.wait_for(lambda: of_type(seen, "contest.drawn"))
    assert closed.data["contest_id"] == drawn.data["contest_id"] == result["id"]
    assert drawn.data["seed"] == result["seed"]
    trail = (
        await meta.client.get(
            f"/v1/contests/{result['id']}/activity", headers=identity(meta.workspace_id)
        )
    ).json()
    assert [a["action"] for a in trail] == ["created", "closed", "drawn"]
    assert trail[-1]["detail"]["winners"] == result["winners"]
    # The audit log has who created and who drew; the refused draws record nothing.
    entries = await meta.wait_for(
        lambda: [
            (e.data["action"], e.data["resource_id"])
            for e in of_type(seen, "audit.recorded")
            if e.data["action"] == "contest.drawn"
        ]
    )
    assert entries == [("contest.drawn", result["id"])]
    created = [e.data["resource_id"] for e in of_type(seen, "audit.recorded")
               if e.data["action"] == "contest.created"]
    assert contest["id"] in created and result["id"] in created


async def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    posts = [str(feed.fb_post), str(feed.ig_post)]
    starts, ends = window()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"post_ids": [str(uuid.uuid4())]}, "post_ids"),
        ({"post_ids": []}, "post_ids"),
        ({"post_ids": posts, "rules": {"keyword": "#ís", "colour": "blue"}}, "rules.colour"),
        ({"post_ids": posts, "winners": 0}, "winners"),
        ({"post_ids": posts, "ends_at": (starts - timedelta(hours=1)).isoformat()}, "ends_at"),
        (
            {
                "post_ids": posts,
                "starts_at": (starts - timedelta(days=3)).isoformat(),
                "ends_at": (starts - timedelta(days=1)).isoformat(),
            },
            "ends_at",
        ),
        ({"post_ids": posts, "ends_at": (ends + timedelta(days=400)).isoformat()}, "ends_at"),
        ({"post_ids": posts, "rules": {"mentions": 99}}, "rules.mentions"),
        (
            {"post_ids": posts, "winner_reply": {"saved_reply_id": str(uuid.uuid4())}},
            "winner_reply.saved_reply_id",
        ),
    ]
    for body, field in cases:
        r = await create(meta, **body)
        assert r.status_code == 422, (body, r.text)
        problem = r.json()
        assert problem["field"] == field or field in {
            e.get("field") for e in problem.get("errors") or []
        }, problem
    saved = await meta.client.post(
        "/v1/saved-replies",
        headers=identity(meta.workspace_id),
        json={"name": "won", "text": "Congratulations {author}!"},
    )
    r = await create(
        meta, post_ids=posts, winner_reply={"saved_reply_id": saved.json()["id"], "via": "dm"}
    )
    assert r.status_code == 422 and r.json()["field"] == "winner_reply.via"
    assert "24 hours" in r.json()["detail"]
    r = await meta.client.post(
        "/v1/contests",
        headers=identity(meta.workspace_id, "analyst"),
        json={
            "post_ids": posts,
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "winners": 1,
        },
    )
    assert r.status_code == 403
    listed = await meta.client.get("/v1/contests", headers=identity(meta.workspace_id))
    assert listed.json()["items"] == []
    other = identity(uuid.uuid4())
    r = await meta.client.post(
        "/v1/contests",
        headers=other,
        json={
            "post_ids": posts,
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "winners": 1,
        },
    )
    assert r.status_code == 422 and r.json()["field"] == "post_ids"


async def test_mentions_on_x_leave_out_the_handles_x_puts_before_a_reply(meta: Inbox) -> None:
    channel = await meta.connect_channel(network="x", external_id=X_ACCOUNT)
    x_post = await meta.publish_post(channel_id=channel, network="x", external_id=X_POST)
    await meta.wait_for(
        lambda: meta.fetch("SELECT 1 FROM inbox.published_posts WHERE external_id = $1", X_POST)
    )

    def reply(n: int, name: str, words: str) -> dict[str, Any]:
        # X writes the replied-to handle in front and says where the author's words start.
        text = "@brand " + words
        return {
            "id_str": f"18000000000000001{n:02d}",
            "text": text,
            "display_text_range": [len("@brand "), len(text)],
            "created_at": datetime.now(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "user": {"id_str": f"17000000000000001{n:02d}", "screen_name": name, "name": name},
            "in_reply_to_status_id_str": X_POST,
            "in_reply_to_user_id_str": X_ACCOUNT,
        }

    body = orjson.dumps(
        {
            "for_user_id": X_ACCOUNT,
            "tweet_create_events": [
                reply(1, "tagged_a_friend", "#ís @pat"),
                reply(2, "tagged_nobody", "#ís"),
            ],
        }
    )
    assert (await meta.client.post("/hooks/x", content=body, headers=x_sign(body))).is_success
    await meta.wait_for(
        lambda: meta.fetch("SELECT 1 FROM inbox.messages WHERE author_handle = 'tagged_nobody'")
    )
    contest = await created(meta, post_ids=[str(x_post)], rules={"mentions": 1})
    assert await entries(meta, contest["id"]) == {
        "tagged_a_friend": [],
        "tagged_nobody": ["mentions"],
    }


async def test_winners_told_by_direct_message_on_x(meta: Inbox) -> None:
    channel = await meta.connect_channel(network="x", external_id=X_ACCOUNT)
    x_post = await meta.publish_post(channel_id=channel, network="x", external_id=X_POST)
    await meta.wait_for(
        lambda: meta.fetch("SELECT 1 FROM inbox.published_posts WHERE external_id = $1", X_POST)
    )
    events = [
        {
            "id_str": f"18000000000000002{n:02d}",
            "text": f"#ís entry {n}",
            "created_at": datetime.now(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "user": {
                "id_str": f"17000000000000002{n:02d}",
                "screen_name": f"fan_{n}",
                "name": f"Fan {n}",
            },
            "in_reply_to_status_id_str": X_POST,
            "in_reply_to_user_id_str": X_ACCOUNT,
        }
        for n in range(3)
    ]
    body = orjson.dumps({"for_user_id": X_ACCOUNT, "tweet_create_events": events})
    assert (await meta.client.post("/hooks/x", content=body, headers=x_sign(body))).is_success
    await meta.wait_for(
        lambda: meta.fetch("SELECT 1 FROM inbox.messages WHERE author_handle = 'fan_2'")
    )
    owner = identity(meta.workspace_id)
    saved = (
        await meta.client.post(
            "/v1/saved-replies", headers=owner, json={"name": "dm", "text": "You won, {author}!"}
        )
    ).json()
    seen = await meta.spy()
    r = await meta.client.post(
        "/v1/contests",
        headers=owner,
        json={
            "post_ids": [str(x_post)],
            "winners": 2,
            "starts_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "ends_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
            "winner_reply": {"saved_reply_id": saved["id"], "via": "dm"},
        },
    )
    assert r.status_code == 201, r.text
    contest = r.json()

    async def draw() -> Any:
        r = await meta.client.post(f"/v1/contests/{contest['id']}/draw", headers=owner)
        return r.json() if r.status_code == 200 else None

    result = await meta.wait_for(draw)
    requested = await meta.wait_for(
        lambda: (
            [e.data for e in of_type(seen, "reply.requested")]
            if len(of_type(seen, "reply.requested")) == 2
            else None
        )
    )
    winners = {w["author_id"]: w["author"] for w in result["winners"]}
    assert {d["recipient_id"] for d in requested} == set(winners)
    assert all(d["kind"] == "dm" and d["in_reply_to"] is None for d in requested)
    by_recipient = {d["recipient_id"]: d["text"] for d in requested}
    for author_id, handle in winners.items():
        assert by_recipient[author_id] == f"You won, Fan {handle.removeprefix('fan_')}!"
    trail = (await meta.client.get(f"/v1/contests/{contest['id']}/activity", headers=owner)).json()
    assert [a["action"] for a in trail].count("winner_told") == 2


async def test_a_winner_who_cannot_be_told_does_not_undo_the_draw(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    await feed.facebook("9001", "Anna", "#ís", datetime.now(UTC) - timedelta(minutes=1))
    await feed.settled()
    owner = identity(meta.workspace_id)
    saved = (
        await meta.client.post(
            "/v1/saved-replies",
            headers=owner,
            json={"name": "won", "text": "Congratulations {author}!"},
        )
    ).json()
    starts = datetime.now(UTC) - timedelta(hours=1)
    r = await meta.client.post(
        "/v1/contests",
        headers=owner,
        json={
            "post_ids": [str(feed.fb_post)],
            "winners": 1,
            "starts_at": starts.isoformat(),
            "ends_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
            "winner_reply": {"saved_reply_id": saved["id"]},
        },
    )
    assert r.status_code == 201, r.text
    contest = r.json()
    # The page is disconnected before the draw: the reply cannot go out.
    [fb_channel] = await meta.fetch(
        "SELECT channel_id FROM inbox.channels WHERE network = 'facebook'"
    )
    await meta.publish(ChannelDisconnected(channel_id=fb_channel["channel_id"]))

    async def disconnected() -> bool:
        rows = await meta.fetch("SELECT status FROM inbox.channels WHERE network = 'facebook'")
        return rows[0]["status"] == "disconnected"

    await meta.wait_for(disconnected)

    async def draw() -> Any:
        r = await meta.client.post(f"/v1/contests/{contest['id']}/draw", headers=owner)
        assert r.status_code in (200, 409), r.text
        return r.json() if r.status_code == 200 else None

    result = await meta.wait_for(draw)
    assert [w["author"] for w in result["winners"]] == ["Anna"]
    trail = (await meta.client.get(f"/v1/contests/{contest['id']}/activity", headers=owner)).json()
    assert trail[-1]["action"] == "winner_not_told"
    assert "no longer connected" in trail[-1]["detail"]["reason"]
    again = (await meta.client.get(f"/v1/contests/{contest['id']}", headers=owner)).json()
    assert again["status"] == "drawn" and again["winners"] == result["winners"]


async def test_contests_are_listed_newest_first_in_pages(meta: Inbox) -> None:
    feed = await Feed(meta).setup()
    made = [
        (await created(meta, name=f"Week {n}", post_ids=[str(feed.fb_post)]))["id"]
        for n in range(3)
    ]
    owner = identity(meta.workspace_id)
    first = (await meta.client.get("/v1/contests", params={"limit": 2}, headers=owner)).json()
    assert [c["id"] for c in first["items"]] == made[::-1][:2]
    rest = (
        await meta.client.get(
            "/v1/contests", headers=owner, params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [c["id"] for c in rest["items"]] == made[:1] and rest["next_cursor"] is None
    other = await meta.client.get("/v1/contests", headers=identity(uuid.uuid4()))
    assert other.json()["items"] == []
    missing = await meta.client.get(f"/v1/contests/{made[0]}", headers=identity(uuid.uuid4()))
    assert missing.status_code == 404
