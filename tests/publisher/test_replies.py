"""`reply.requested` → a reply on the network → `reply.sent` / `reply.failed`, and the first
comment a post asks for."""

import uuid

import httpx

from services.publisher.app import create_app
from shared.events import Envelope, ReplyRequested
from tests.publisher.support import (
    Tap,
    post_due,
    put_faults,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan
from tests.support.waits import until


async def fan_comment(sandbox_url: str, network: str, post_id: str, text: str) -> dict:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.post(f"/_sandbox/{network}/posts/{post_id}/comments",
                              json={"text": text, "author": "Dana"})
        assert r.status_code == 201, r.text
        return r.json()


def reply_request(channel, *, text, in_reply_to, kind="comment", **extra) -> ReplyRequested:
    return ReplyRequested(reply_id=uuid.uuid4(), conversation_id=uuid.uuid4(),
                          channel_id=uuid.UUID(channel["id"]), network=channel["network"],
                          text=text, in_reply_to=in_reply_to, kind=kind, **extra)


async def reply_roundtrip(publisher_settings, sandbox_url, network, *, faults=()):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*", "reply.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("replies"))
        channel = await connect(app, sandbox_url, workspace, network=network)
        due = post_due(channel=channel, text=f"Ask us anything on {network}")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        post_id = (await tap.wait("post.published"))[0].data["external_id"]
        comment = await fan_comment(sandbox_url, network, post_id, "Is it out yet?")
        if faults:
            await put_faults(sandbox_url, *faults)
        request = reply_request(channel, text="It is, today!", in_reply_to=comment["id"],
                                root_id=post_id)
        envelope = Envelope.of(request, workspace_id=workspace)
        # Redelivered, and requested again under a new message id: one reply all the same.
        await send(settings.exchange_name, envelope, envelope,
                   Envelope.of(request, workspace_id=workspace))
        sent = await tap.wait("reply.sent", seconds=30)
        listing = await sandbox_posts(sandbox_url, network, channel["external_id"])
        mine = [p for p in listing["items"] if p["text"].endswith("It is, today!")]
        assert len(mine) == 1, listing
        assert mine[0]["reply_to"] == comment["id"]
        assert sent[0].data["reply_id"] == str(request.reply_id)
        assert sent[0].data["conversation_id"] == str(request.conversation_id)
        assert sent[0].data["external_id"] == mine[0]["id"]
        assert len(tap.of("reply.sent")) == 1


async def test_x_reply_goes_in_reply_to_the_comment(publisher_settings, sandbox_url):
    await reply_roundtrip(publisher_settings, sandbox_url, "x")


async def test_x_reply_with_an_unknown_outcome_is_found_not_resent(
    publisher_settings, sandbox_url
):
    await reply_roundtrip(
        publisher_settings, sandbox_url, "x",
        faults=[{"network": "x", "endpoint": "POST /2/tweets", "error_rate": 1.0,
                 "status": 503, "phase": "after", "count": 1}],
    )


async def test_mastodon_reply_uses_in_reply_to_id(publisher_settings, sandbox_url):
    await reply_roundtrip(publisher_settings, sandbox_url, "mastodon")


async def test_bluesky_reply_names_root_and_parent(publisher_settings, sandbox_url):
    await reply_roundtrip(publisher_settings, sandbox_url, "bluesky")


async def test_facebook_reply_is_a_comment_under_the_comment(publisher_settings, sandbox_url):
    await reply_roundtrip(publisher_settings, sandbox_url, "facebook")


async def test_x_direct_message_reply_and_a_refused_reply(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["reply.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("replies"))
        channel = await connect(app, sandbox_url, workspace, network="x")
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            dm = (await client.post("/_sandbox/x/messages", json={
                "account": channel["external_id"], "text": "Hello?", "author": "Sam"})).json()
            events = (await client.get(
                "/x/2/dm_events",
                headers={"Authorization":
                         f"Bearer {channel['account']['credentials']['access_token']}"},
            )).json()["data"]
        sender = next(e["sender_id"] for e in events if e["id"] == dm["id"])
        request = reply_request(channel, text="Hi Sam", in_reply_to=dm["id"], kind="dm",
                                recipient_id=sender)
        await send(settings.exchange_name, Envelope.of(request, workspace_id=workspace))
        sent = await tap.wait("reply.sent")
        assert sent[0].data["external_id"]
        # A reply to a tweet that does not exist is refused by X, and fails at once.
        bad = reply_request(channel, text="Into the void", in_reply_to="1")
        await send(settings.exchange_name, Envelope.of(bad, workspace_id=workspace))
        failed = await tap.wait("reply.failed")
        assert failed[0].data["reply_id"] == str(bad.reply_id)
        assert failed[0].data["error_class"] == "content_rejected"


async def test_first_comment_follows_the_post_with_its_own_retries(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="mastodon")
        # The first comment's first try fails; the post itself is not held back by it.
        await put_faults(sandbox_url, {"network": "mastodon", "endpoint": "POST /api/v1/statuses",
                                       "error_rate": 1.0, "status": 503, "count": 2})
        due = post_due(channel=channel, text="Launch day",
                       options={"first_comment": "Links in here"})
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        published = (await tap.wait("post.published", seconds=30))[0].data
        async def first_comment() -> list:
            listing = await sandbox_posts(sandbox_url, "mastodon", channel["external_id"])
            return [p for p in listing["items"] if p["text"] == "Links in here"]

        comments = await until(first_comment, timeout=10, what="the first comment")
        assert len(comments) == 1
        assert comments[0]["reply_to"] == published["external_id"]
        assert len(tap.of("post.published")) == 1
