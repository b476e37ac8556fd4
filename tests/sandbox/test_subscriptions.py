"""Who the fake networks push to (subscriptions), and what moderation does to comments."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from sandbox.state import NETWORKS, State
from tests.sandbox.conftest import Receiver, auth, new_account
from tests.support.waits import until


@pytest.fixture
async def strict() -> AsyncIterator[tuple[httpx.AsyncClient, Receiver]]:
    """A sandbox that pushes only to subscribed accounts, as the networks do."""
    settings = SandboxSettings(
        public_url="http://sandbox.test",
        webhook_base_url="http://receiver.test/hooks",
        webhook_backoff_seconds=0.01,
    )
    assert settings.require_subscriptions
    apps = State(settings).apps
    receiver = Receiver({n: apps[n].client_secret for n in NETWORKS})
    app = create_app(settings, webhook_transport=httpx.ASGITransport(app=receiver.app))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as client:
        yield client, receiver
    await app.state.sandbox.deliveries.close()


async def _deliveries(client: httpx.AsyncClient, network: str) -> list[dict]:
    return (await client.get("/_sandbox/deliveries", params={"network": network})).json()["items"]


async def test_facebook_pushes_only_to_a_subscribed_page(
    strict: tuple[httpx.AsyncClient, Receiver],
) -> None:
    client, receiver = strict
    acc = await new_account(client, "facebook")
    token, page = acc["credentials"]["access_token"], acc["credentials"]["page_id"]
    post = await client.post(
        f"/facebook/v21.0/{page}/feed", data={"message": "hi"}, headers=auth(token)
    )
    post_id = post.json()["id"]

    await client.post(f"/_sandbox/facebook/posts/{post_id}/comments", json={"text": "first"})
    assert [d["status"] for d in await _deliveries(client, "facebook")] == ["not_subscribed"]
    assert receiver.received == []

    bad = await client.post(
        f"/facebook/v21.0/{page}/subscribed_apps",
        headers=auth(token),
        data={"subscribed_fields": "feed,comments"},
    )
    assert bad.status_code == 400 and "comments" in bad.json()["error"]["message"]
    ok = await client.post(
        f"/facebook/v21.0/{page}/subscribed_apps",
        headers=auth(token),
        data={"subscribed_fields": "feed,mention,messages"},
    )
    assert ok.json() == {"success": True}
    subs = (await client.get("/_sandbox/facebook/subscriptions")).json()
    assert subs == [
        {
            "account": page,
            "topics": ["feed", "mention", "messages"],
            "callback": "http://receiver.test/hooks/facebook",
            "expires_at": None,
        }
    ]
    listed = await client.get(f"/facebook/v21.0/{page}/subscribed_apps", headers=auth(token))
    assert listed.json()["data"][0]["subscribed_fields"] == ["feed", "mention", "messages"]

    await client.post(f"/_sandbox/facebook/posts/{post_id}/comments", json={"text": "second"})
    got = await receiver.wait_for(1)
    assert len(got) == 1 and b"second" in got[0]["body"]

    gone = await client.delete(f"/facebook/v21.0/{page}/subscribed_apps", headers=auth(token))
    assert gone.json() == {"success": True}
    assert (await client.get("/_sandbox/facebook/subscriptions")).json() == []


async def test_x_registers_a_crc_checked_webhook_and_subscribes_the_user(
    strict: tuple[httpx.AsyncClient, Receiver],
) -> None:
    client, receiver = strict
    app = (await client.get("/_sandbox/x/app")).json()
    acc = await new_account(client, "x")
    user_token = acc["credentials"]["access_token"]
    bearer = await client.post(
        "/x/2/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
    )
    app_token = bearer.json()["access_token"]
    refused = await client.post(
        "/x/2/webhooks", headers=auth(user_token), json={"url": "http://receiver.test/hooks/x"}
    )
    assert refused.status_code == 401
    hook = await client.post(
        "/x/2/webhooks", headers=auth(app_token), json={"url": "http://receiver.test/hooks/x"}
    )
    assert hook.json()["data"]["valid"] is True
    hook_id = hook.json()["data"]["id"]
    sub = await client.post(
        f"/x/2/account_activity/webhooks/{hook_id}/subscriptions/all", headers=auth(user_token)
    )
    assert sub.json() == {"data": {"subscribed": True}}
    subs = (await client.get("/_sandbox/x/subscriptions")).json()
    assert [s["account"] for s in subs] == [acc["external_id"]]

    await client.post("/_sandbox/x/messages", json={"account": acc["external_id"], "text": "psst"})
    assert len(await receiver.wait_for(1)) == 1
    end = await client.delete(
        f"/x/2/account_activity/webhooks/{hook_id}/subscriptions/{acc['external_id']}/all",
        headers=auth(app_token),
    )
    assert end.json() == {"data": {"subscribed": False}}
    await client.post("/_sandbox/x/messages", json={"account": acc["external_id"], "text": "again"})
    assert (await _deliveries(client, "x"))[-1]["status"] == "not_subscribed"


async def test_youtube_hub_verifies_intent_and_holds_a_lease(
    strict: tuple[httpx.AsyncClient, Receiver],
) -> None:
    client, receiver = strict
    acc = await new_account(client, "youtube")
    channel = acc["external_id"]
    topic = f"https://www.youtube.com/xml/feeds/videos.xml?channel_id={channel}"
    resp = await client.post(
        "/youtube/websub/hub",
        data={
            "hub.mode": "subscribe",
            "hub.callback": "http://receiver.test/hooks/youtube",
            "hub.topic": topic,
            "hub.lease_seconds": "3600",
            "hub.secret": "hub-secret",
        },
    )
    assert resp.status_code == 202
    async def subscriptions() -> list[dict]:
        return (await client.get("/_sandbox/youtube/subscriptions")).json()

    subs = await until(subscriptions, timeout=5, every=0.02, what="the hub's subscription")
    assert subs and subs[0]["account"] == channel and subs[0]["topics"] == [topic]
    assert 3500 < subs[0]["expires_at"] - time.time() <= 3600

    # A new upload is pushed to the subscriber as an Atom entry, signed with its hub.secret.
    h = auth(acc["credentials"]["access_token"])
    start = await client.post(
        "/youtube/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        headers=h,
        json={"snippet": {"title": "Clip & more"}, "status": {"privacyStatus": "public"}},
    )
    location = start.headers["location"].replace("http://sandbox.test", "")
    video = (await client.get("/_sandbox/media/sample.mp4")).content
    video_id = (await client.put(location, content=video, headers=h)).json()["id"]
    [pushed] = await receiver.wait_for(1)
    assert pushed["headers"]["content-type"] == "application/atom+xml"
    assert (
        pushed["headers"]["x-hub-signature"]
        == "sha1=" + hmac.new(b"hub-secret", pushed["body"], hashlib.sha1).hexdigest()
    )
    assert f"<yt:videoId>{video_id}</yt:videoId>".encode() in pushed["body"]
    assert b"Clip &amp; more" in pushed["body"]


async def test_moderation_changes_the_comment(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    acc = await new_account(client, "facebook")
    other = await new_account(client, "facebook", "Other")
    token, page = acc["credentials"]["access_token"], acc["credentials"]["page_id"]
    post_id = (
        await client.post(
            f"/facebook/v21.0/{page}/feed", data={"message": "m"}, headers=auth(token)
        )
    ).json()["id"]
    first = (
        await client.post(f"/_sandbox/facebook/posts/{post_id}/comments", json={"text": "spam"})
    ).json()["id"]
    second = (
        await client.post(f"/_sandbox/facebook/posts/{post_id}/comments", json={"text": "rude"})
    ).json()["id"]
    foreign = await client.post(
        f"/facebook/v21.0/{first}",
        data={"is_hidden": "true"},
        headers=auth(other["credentials"]["access_token"]),
    )
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == 200
    hide = await client.post(
        f"/facebook/v21.0/{first}", data={"is_hidden": "true"}, headers=auth(token)
    )
    assert hide.json() == {"success": True}
    delete = await client.delete(f"/facebook/v21.0/{second}", headers=auth(token))
    assert delete.json() == {"success": True}
    items = (await client.get(f"/_sandbox/facebook/posts/{post_id}/comments")).json()["items"]
    assert [(c["id"], c["hidden"], c["deleted"]) for c in items] == [
        (first, True, False),
        (second, False, True),
    ]


async def test_an_account_can_be_made_with_a_short_lived_token(client: httpx.AsyncClient) -> None:
    acc = await new_account_expiring(client, "linkedin", 120)
    assert 100 < acc["credentials"]["expires_at"] - time.time() <= 121


async def new_account_expiring(client: httpx.AsyncClient, network: str, seconds: int) -> dict:
    resp = await client.post(f"/_sandbox/{network}/accounts", json={"expires_in": seconds})
    assert resp.status_code == 201, resp.text
    return resp.json()
