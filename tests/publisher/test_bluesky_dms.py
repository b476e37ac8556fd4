"""Bluesky direct messages: polled from the chat service through the PDS with the other
notifications, answered through the one reply path (`reply.requested` of kind dm)."""

import uuid

import httpx

from services.publisher.app import create_app
from shared.events import Envelope, InboxFetch
from tests.publisher.support import Tap, send, wait_consuming
from tests.publisher.test_publishing import connect
from tests.publisher.test_replies import reply_request
from tests.support.servers import lifespan

PROXY = {"atproto-proxy": "did:web:api.bsky.chat#bsky_chat"}


async def write_to(sandbox_url: str, account: str, text: str, author: str) -> dict:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.post("/_sandbox/bluesky/messages",
                              json={"account": account, "text": text, "author": author})
        assert r.status_code == 201, r.text
        return r.json()


async def conversation(sandbox_url: str, credentials: dict, convo_id: str) -> list[dict]:
    """The conversation as the account reads it on Bluesky, newest first."""
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.post("/bluesky/xrpc/com.atproto.server.createSession",
                              json={"identifier": credentials["identifier"],
                                    "password": credentials["password"]})
        headers = {"Authorization": f"Bearer {r.json()['accessJwt']}", **PROXY}
        r = await client.get("/bluesky/xrpc/chat.bsky.convo.getMessages",
                             params={"convoId": convo_id}, headers=headers)
        assert r.status_code == 200, r.text
        messages: list[dict] = r.json()["messages"]
        return messages


async def test_direct_messages_are_polled_once_and_answered(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["inbox.fetched", "reply.*"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("inbox"))
        await wait_consuming(app, settings.queue_name("replies"))
        channel = await connect(app, sandbox_url, workspace, network="bluesky")
        account = channel["external_id"]
        first = await write_to(sandbox_url, account, "Is my order shipped?", "Dana")
        await write_to(sandbox_url, account, "Order 1234", "Dana")
        await write_to(sandbox_url, account, "Love the app", "Omar")

        fetch = InboxFetch(channel_id=uuid.UUID(channel["id"]), network="bluesky")
        await send(settings.exchange_name, Envelope.of(fetch, workspace_id=workspace))
        polled = (await tap.wait("inbox.fetched"))[0].data
        assert [(i["kind"], i["text"]) for i in polled["items"]] == [
            ("dm", "Is my order shipped?"), ("dm", "Order 1234"), ("dm", "Love the app")
        ]
        dana = polled["items"][0]
        assert dana["author_id"] == first["sender"] and dana["author_name"] == "Dana"
        assert dana["raw"]["convo_id"] == first["convo_id"]

        # Answered through the reply path: the conversation with the person gets it.
        request = reply_request(channel, text="Yes, it left today.", in_reply_to=None,
                                kind="dm", recipient_id=dana["author_id"])
        await send(settings.exchange_name, Envelope.of(request, workspace_id=workspace))
        sent = (await tap.wait("reply.sent", seconds=30))[0].data
        messages = await conversation(
            sandbox_url, channel["account"]["credentials"], first["convo_id"]
        )
        assert messages[0]["text"] == "Yes, it left today."
        assert messages[0]["sender"]["did"] == account
        assert sent["external_id"] == messages[0]["id"]

        # The next poll brings only what is new, and not our own answer.
        await write_to(sandbox_url, account, "Thanks!", "Dana")
        await send(settings.exchange_name, Envelope.of(fetch, workspace_id=workspace))
        again = (await tap.wait("inbox.fetched", count=2))[1].data
        assert [i["text"] for i in again["items"]] == ["Thanks!"]
