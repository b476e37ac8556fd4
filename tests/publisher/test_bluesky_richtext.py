"""Bluesky posts carry facets (UTF-8 byte offsets) so links, mentions and tags are clickable."""

import uuid

import httpx

from services.publisher.adapters.richtext import detect
from services.publisher.app import create_app
from shared.events import Envelope
from tests.publisher.support import (
    Tap,
    new_account,
    post_due,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


def spans_of(text):
    raw = text.encode()
    return [(s.kind, raw[s.start : s.end].decode(), s.value) for s in detect(text)]


def test_offsets_are_bytes_and_trailing_punctuation_is_left_out():
    text = "Café ☕ with @ana.bsky.social: https://example.com/menu?x=1. #Launch2026!"
    assert spans_of(text) == [
        ("mention", "@ana.bsky.social", "ana.bsky.social"),
        ("link", "https://example.com/menu?x=1", "https://example.com/menu?x=1"),
        ("tag", "#Launch2026", "Launch2026"),
    ]
    mention = detect(text)[0]
    assert mention.start == len("Café ☕ with ".encode()) != len("Café ☕ with ")


def test_numbers_emails_and_parts_of_links_are_not_facets():
    assert spans_of("#2026 is near, write to me@example.com") == []
    assert [k for k, *_ in spans_of("see https://example.com/#top")] == ["link"]


async def test_a_bluesky_post_is_published_with_its_facets(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="bluesky")
        friend = await new_account(sandbox_url, "bluesky", name="Ana")
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            accounts = (await client.get("/_sandbox/bluesky/accounts")).json()["items"]
        [friend_handle] = [
            a["username"] for a in accounts if a["external_id"] == friend["external_id"]
        ]
        text = f"Olá @{friend_handle} and @nobody.invalid — https://example.com/ça #café"
        due = post_due(channel=channel, text=text)
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        await tap.wait("post.published")
        [held] = (await sandbox_posts(sandbox_url, "bluesky", channel["external_id"]))["items"]
        raw = text.encode()
        got = [
            (raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0])
            for f in held["record"]["facets"]
        ]
        assert got == [
            (
                f"@{friend_handle}",
                {"$type": "app.bsky.richtext.facet#mention", "did": friend["external_id"]},
            ),
            (
                "https://example.com/ça",
                {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/ça"},
            ),
            ("#café", {"$type": "app.bsky.richtext.facet#tag", "tag": "café"}),
        ]


async def test_the_sandbox_refuses_facets_outside_the_text(sandbox_url):
    account = await new_account(sandbox_url, "bluesky")
    creds = account["credentials"]
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        session = await client.post(
            "/bluesky/xrpc/com.atproto.server.createSession",
            json={"identifier": creds["identifier"], "password": creds["password"]},
        )
        token = session.json()["accessJwt"]
        r = await client.post(
            "/bluesky/xrpc/com.atproto.repo.createRecord",
            json={
                "repo": account["external_id"],
                "collection": "app.bsky.feed.post",
                "record": {
                    "text": "héllo",
                    "createdAt": "2026-12-04T10:00:00.000Z",
                    "facets": [
                        {
                            "index": {"byteStart": 0, "byteEnd": 7},
                            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}],
                        }
                    ],
                },
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 400
    assert "byte range" in r.json()["message"]
