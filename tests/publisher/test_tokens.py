import uuid

import httpx

from services.publisher.app import create_app
from shared.events import Envelope
from tests.conftest import identity
from tests.publisher.support import (
    Tap,
    new_account,
    post_due,
    put_faults,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.support.servers import lifespan


async def test_an_expired_token_is_refreshed_and_the_post_goes_out(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    account = await new_account(sandbox_url, "x")
    async with (
        Tap(settings.exchange_name, ["post.*", "channel.*"]) as tap,
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        r = await client.post(
            "/v1/channels",
            json={"network": "x", "credentials": account["credentials"]},
            headers=identity(workspace),
        )
        channel = r.json()
        # The network ends every access token early (its answer: 401), as X does after 2 h.
        await put_faults(sandbox_url, {"network": "x", "expire_tokens": True})
        due = post_due(channel=channel, text="After a refresh")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        published = await tap.wait("post.published")
        listing = await sandbox_posts(sandbox_url, "x", account["external_id"])
        assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
        assert tap.of("channel.needs_reauth") == []
        failures = app.state.runtime.metrics.registry.get_sample_value(
            "herald_publisher_token_refresh_failures_total",
            {"network": "x", "error_class": "auth_expired"},
        )
        assert failures is None


async def test_a_token_that_cannot_be_refreshed_parks_posts_until_reconnected(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    account = await new_account(sandbox_url, "x")
    creds = dict(account["credentials"])
    refresh_token = creds.pop("refresh_token")  # connected without offline access
    async with (
        Tap(settings.exchange_name, ["post.*", "channel.*"]) as tap,
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = (
            await client.post(
                "/v1/channels",
                json={"network": "x", "credentials": creds},
                headers=identity(workspace),
            )
        ).json()
        await put_faults(sandbox_url, {"network": "x", "expire_tokens": True})
        due = post_due(channel=channel, text="Waits for a person")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        reauth = await tap.wait("channel.needs_reauth")
        assert reauth[0].data["channel_id"] == channel["id"]
        shown = (
            await client.get(f"/v1/channels/{channel['id']}", headers=identity(workspace))
        ).json()
        assert shown["status"] == "needs_reauth"
        failures = app.state.runtime.metrics.registry.get_sample_value(
            "herald_publisher_token_refresh_failures_total",
            {"network": "x", "error_class": "auth_expired"},
        )
        assert failures == 1
        assert tap.of("post.publish_failed") == [] and tap.of("post.published") == []

        # Someone reconnects the account with a fresh token: the parked post goes out.
        apps = settings.network_apps["x"]
        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            fresh = (
                await sandbox.post(
                    "/x/2/oauth2/token",
                    data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                    auth=(apps.client_id, apps.client_secret),
                )
            ).json()
        again = await client.post(
            "/v1/channels",
            json={"network": "x", "credentials": {"access_token": fresh["access_token"]}},
            headers=identity(workspace),
        )
        assert again.status_code == 200, again.text
        assert again.json()["id"] == channel["id"] and again.json()["status"] == "active"
        published = await tap.wait("post.published")
        assert published[0].data["target_id"] == str(due.target_id)
