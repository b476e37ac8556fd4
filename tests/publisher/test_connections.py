"""Connections that stay alive: webhook subscriptions made and ended with the channel, tokens
renewed ahead of their end, moderation carried out on the network."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from services.inbox.settings import InboxSettings
from services.publisher.app import create_app
from services.publisher.settings import PublisherSettings
from shared.events import CommentModerationRequested, Envelope
from tests.conftest import identity
from tests.publisher.support import (
    Tap,
    network_apps,
    new_account,
    running_sandbox,
    send,
    wait_consuming,
)
from tests.support.servers import free_port, lifespan, serve
from tests.support.waits import until

PUSHING = ["facebook", "instagram", "threads", "x", "linkedin", "youtube"]


async def eventually(check: Callable[[], Any], seconds: float = 30) -> Any:
    return await until(check, timeout=seconds, every=0.1)


async def test_connecting_subscribes_with_each_network_and_webhooks_arrive(
    make_settings: Callable[..., Any],
) -> None:
    from services.inbox.app import create_app as create_inbox

    inbox_port = free_port()
    hooks = f"http://127.0.0.1:{inbox_port}/hooks"
    async with running_sandbox(webhook_base_url=hooks) as sandbox_url:
        apps = await network_apps(sandbox_url, *PUSHING, "tiktok", "mastodon")
        inbox = create_inbox(
            make_settings(
                InboxSettings,
                network_apps={n: {"client_secret": a["client_secret"]} for n, a in apps.items()},
            )
        )
        settings: PublisherSettings = make_settings(
            PublisherSettings,
            sandbox_url=sandbox_url,
            network_apps=apps,
            webhook_callback_url=hooks,
            http_timeout_seconds=5.0,
            lease_seconds=10.0,
            subscription_poll_seconds=0.5,
        )
        publisher = create_app(settings)
        workspace = uuid.uuid4()
        async with (
            serve(inbox, port=inbox_port),
            lifespan(publisher),
            httpx.AsyncClient(base_url=sandbox_url) as sandbox,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=publisher),
                base_url="http://p",
                headers=identity(workspace),
            ) as client,
        ):
            channels: dict[str, dict[str, Any]] = {}
            accounts: dict[str, dict[str, Any]] = {}
            for network in [*PUSHING, "tiktok", "mastodon"]:
                accounts[network] = await new_account(sandbox_url, network)
                r = await client.post(
                    "/v1/channels",
                    json={"network": network, "credentials": accounts[network]["credentials"]},
                )
                assert r.status_code == 201, r.text
                channels[network] = r.json()

            async def states() -> dict[str, str] | None:
                seen = {}
                for network, channel in channels.items():
                    shown = (await client.get(f"/v1/channels/{channel['id']}")).json()
                    seen[network] = shown["subscription"]["state"]
                done = all(seen[n] == "active" for n in PUSHING)
                return seen if done else None

            seen = await eventually(states)
            assert seen["tiktok"] == "app" and seen["mastodon"] == "polling"
            for network in PUSHING:
                held = (await sandbox.get(f"/_sandbox/{network}/subscriptions")).json()
                assert [s["account"] for s in held] == [accounts[network]["external_id"]]
            youtube = (await client.get(f"/v1/channels/{channels['youtube']['id']}")).json()
            lease_end = datetime.fromisoformat(youtube["subscription"]["expires_at"])
            assert lease_end > datetime.now(UTC) + timedelta(days=4)
            mastodon = (await client.get(f"/v1/channels/{channels['mastodon']['id']}")).json()
            assert mastodon["subscription"]["delivery"] == "polling"

            # Nobody registered anything by hand: the networks push to the inbox.
            for network in ("x", "facebook"):
                await sandbox.post(
                    f"/_sandbox/{network}/messages",
                    json={"account": accounts[network]["external_id"], "text": "hello"},
                )

            async def delivered() -> bool:
                items = (await sandbox.get("/_sandbox/deliveries")).json()["items"]
                return sorted(d["network"] for d in items if d["status"] == "delivered") == [
                    "facebook",
                    "x",
                ]

            await eventually(delivered)

            for network in ("x", "facebook", "linkedin"):
                r = await client.delete(f"/v1/channels/{channels[network]['id']}")
                assert r.status_code == 204
                assert (await sandbox.get(f"/_sandbox/{network}/subscriptions")).json() == []


async def test_a_refused_subscription_is_reported_and_retried(publisher_settings, sandbox_url):
    # The callback answers no CRC check (nothing listens there): X refuses the webhook.
    settings = publisher_settings(
        webhook_callback_url=f"http://127.0.0.1:{free_port()}/hooks",
        subscription_poll_seconds=0.2,
    )
    app = create_app(settings)
    workspace = uuid.uuid4()
    account = await new_account(sandbox_url, "x")
    async with (
        Tap(settings.exchange_name, ["channel.*"]) as tap,
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p", headers=identity(workspace)
        ) as client,
    ):
        channel = (
            await client.post(
                "/v1/channels", json={"network": "x", "credentials": account["credentials"]}
            )
        ).json()
        changed = await tap.wait("channel.subscription_changed")
        assert changed[0].data["state"] == "failed" and "CRC" in changed[0].data["error"]

        async def retried() -> dict[str, Any] | None:
            shown = (await client.get(f"/v1/channels/{channel['id']}")).json()["subscription"]
            return shown if shown["attempts"] >= 2 else None

        shown = await eventually(retried)
        assert shown["state"] == "failed" and shown["next_attempt_at"] is not None
        # X's mentions can be read, so the inbox polls them until the webhook is back.
        assert shown["delivery"] == "polling"
        # One event for the change, not one per retry.
        assert len(tap.of("channel.subscription_changed")) == 1


async def test_an_idle_channel_token_is_renewed_before_it_ends(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
        account = (await sandbox.post("/_sandbox/x/accounts", json={"expires_in": 120})).json()
    async with (
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p", headers=identity(workspace)
        ) as client,
    ):
        channel = (
            await client.post(
                "/v1/channels", json={"network": "x", "credentials": account["credentials"]}
            )
        ).json()
        before = datetime.fromisoformat(channel["token_expires_at"])
        assert before < datetime.now(UTC) + timedelta(minutes=3)
        outcomes = await app.state.token_refresher.run_once()
        assert outcomes == {uuid.UUID(channel["id"]): "renewed"}
        shown = (await client.get(f"/v1/channels/{channel['id']}")).json()
        after = datetime.fromisoformat(shown["token_expires_at"])
        assert after > datetime.now(UTC) + timedelta(hours=1)
        assert shown["status"] == "active"
        posts = (
            await httpx.AsyncClient(base_url=sandbox_url).get(
                "/_sandbox/x/posts", params={"account": account["external_id"]}
            )
        ).json()
        assert posts["items"] == []  # renewed without anything being published


async def test_a_token_that_cannot_be_renewed_is_announced_once(publisher_settings, sandbox_url):
    settings = publisher_settings(refresh_ahead_seconds=2 * 86400)
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
        account = (await sandbox.post("/_sandbox/x/accounts", json={"expires_in": 86400})).json()
    # Connected without offline access: X gave no refresh token, nothing can renew it.
    account["credentials"].pop("refresh_token")
    async with (
        Tap(settings.exchange_name, ["channel.*"]) as tap,
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p", headers=identity(workspace)
        ) as client,
    ):
        channel = (
            await client.post(
                "/v1/channels", json={"network": "x", "credentials": account["credentials"]}
            )
        ).json()
        assert await app.state.token_refresher.run_once() == {uuid.UUID(channel["id"]): "cannot"}
        await app.state.token_refresher.run_once()
        expiring = await tap.wait("channel.expiring")
        assert expiring[0].data["channel_id"] == channel["id"]
        assert expiring[0].data["days_left"] == 0 and "reconnect" in expiring[0].data["reason"]
        again = await app.state.token_refresher.warn_expiring(
            now=datetime.now(UTC),
            window=timedelta(days=7),
            outcomes={uuid.UUID(channel["id"]): "cannot"},
        )
        assert again == []  # one warning for one end
        shown = (await client.get(f"/v1/channels/{channel['id']}")).json()
        assert shown["status"] == "active"  # it still works until then


async def test_moderation_changes_the_comment_on_the_network(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    fb = await new_account(sandbox_url, "facebook")
    x = await new_account(sandbox_url, "x")
    token, page = fb["credentials"]["access_token"], fb["credentials"]["page_id"]
    async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
        post_id = (
            await sandbox.post(
                f"/facebook/v21.0/{page}/feed",
                data={"message": "m"},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()["id"]
        comment = (
            await sandbox.post(
                f"/_sandbox/facebook/posts/{post_id}/comments", json={"text": "buy followers"}
            )
        ).json()["id"]
    async with (
        Tap(settings.exchange_name, ["comment.moderated"]) as tap,
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p", headers=identity(workspace)
        ) as client,
    ):
        await wait_consuming(app, settings.queue_name("moderation"))
        channels = {}
        for network, account in (("facebook", fb), ("x", x)):
            channels[network] = (
                await client.post(
                    "/v1/channels", json={"network": network, "credentials": account["credentials"]}
                )
            ).json()

        def request(network: str, external_id: str, action: str) -> Envelope:
            return Envelope.of(
                CommentModerationRequested(
                    moderation_id=uuid.uuid4(),
                    message_id=uuid.uuid4(),
                    conversation_id=uuid.uuid4(),
                    channel_id=uuid.UUID(channels[network]["id"]),
                    network=network,
                    external_id=external_id,
                    action=action,  # type: ignore[arg-type]
                    requested_by="key:1",
                ),
                workspace_id=workspace,
            )

        await send(settings.exchange_name, request("facebook", comment, "hide"))
        done = await tap.wait("comment.moderated")
        assert done[0].data["outcome"] == "done", done[0].data
        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            items = (await sandbox.get(f"/_sandbox/facebook/posts/{post_id}/comments")).json()
        assert [(c["id"], c["hidden"], c["deleted"]) for c in items["items"]] == [
            (comment, True, False)
        ]

        await send(settings.exchange_name, request("x", "123", "delete"))
        refused = await tap.wait("comment.moderated", count=2)
        assert refused[1].data["outcome"] == "refused"
        assert "hide replies" in refused[1].data["error"]


async def test_mastodon_registers_herald_on_the_instance_it_is_given(
    publisher_settings, sandbox_url
):
    # No Mastodon app configured: only the registration on the instance can make this work.
    base = publisher_settings()
    apps = {n: a.model_dump() for n, a in base.network_apps.items() if n != "mastodon"}
    app = create_app(publisher_settings(network_apps=apps))
    workspace = uuid.uuid4()
    async with (
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p", headers=identity(workspace)
        ) as api,
        httpx.AsyncClient() as browser,
    ):
        params = {"redirect_uri": "https://app.example/done"}
        without = await api.get("/v1/channels/connect/mastodon", params=params)
        assert without.status_code == 422 and without.json()["field"] == "instance"
        r = await api.get(
            "/v1/channels/connect/mastodon", params={**params, "instance": sandbox_url}
        )
        assert r.status_code == 200, r.text
        url = r.json()["authorize_url"]
        consent = await browser.get(url)
        assert consent.status_code == 302, consent.text
        back = parse_qs(urlsplit(consent.headers["location"]).query)
        r = await api.get(
            "/v1/channels/callback/mastodon",
            params={"code": back["code"][0], "state": back["state"][0]},
        )
        assert r.status_code == 201, r.text
        assert r.json()["network"] == "mastodon"
        assert r.json()["subscription"]["state"] == "polling"


async def test_x_mentions_can_be_read_while_the_subscription_is_down(
    publisher_settings, sandbox_url
):
    from services.publisher.adapters import Adapters
    from services.publisher.adapters.base import ChannelRef

    account = await new_account(sandbox_url, "x")
    creds = account["credentials"]
    async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
        tweet = (
            await sandbox.post(
                "/x/2/tweets",
                json={"text": "launch day"},
                headers={"Authorization": f"Bearer {creds['access_token']}"},
            )
        ).json()["data"]["id"]
        first = (
            await sandbox.post(
                f"/_sandbox/x/posts/{tweet}/comments", json={"text": "congrats", "author": "Ann"}
            )
        ).json()["id"]
        adapters = Adapters(publisher_settings())
        try:
            adapter = adapters.get("x")
            ref = ChannelRef(external_id=account["external_id"], username=None)
            items, cursor = await adapter.notifications(creds, channel=ref, cursor=None)
            assert [(i.external_id, i.kind, i.parent_external_id) for i in items] == [
                (first, "comment", tweet)
            ]
            second = (
                await sandbox.post(
                    f"/_sandbox/x/posts/{tweet}/comments", json={"text": "again", "author": "Bo"}
                )
            ).json()["id"]
            items, cursor = await adapter.notifications(creds, channel=ref, cursor=cursor)
            assert [i.external_id for i in items] == [second] and cursor == second
        finally:
            await adapters.close()
