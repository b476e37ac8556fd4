"""SSRF through media URLs and Mastodon instances: a client names an internal address (or
one that redirects there), and the publisher would read it and hand it to a network.

Against the running platform: the publisher may reach the sandbox and one allowed target
(the development allow-list); the "internal" target is on loopback too, but not listed, so
it stands for every internal service. It must never see a request.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.flows import connect_x_channel, new_workspace, wait_for
from tests.security.outbound_support import outbound_world

MEDIA_CAP = 1024 * 1024


async def publish_with_media(
    gateway: httpx.AsyncClient, key: str, channel_id: str, media_url: str
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {key}"}
    r = await gateway.post(
        "/v1/posts",
        headers=auth,
        json={
            "text": "Look at this",
            "media": [{"kind": "image", "url": media_url, "alt": "a picture"}],
            "targets": [{"channel_id": channel_id}],
            "schedule": {"now": True},
        },
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]

    async def settled() -> dict[str, Any] | None:
        body = (await gateway.get(f"/v1/posts/{post_id}", headers=auth)).json()
        target: dict[str, Any] = body["targets"][0]
        return target if target["status"] in ("published", "failed") else None

    settled_target: dict[str, Any] = await wait_for(
        settled, seconds=60, what="the post to be published or to fail"
    )
    return settled_target


async def test_media_urls_cannot_reach_internal_addresses(database_url, bus_prefix, tmp_path):
    # A small cap, so the size test stays small on the code that had none.
    capped = {"publisher": {"PUBLISHER_MEDIA_MAX_BYTES": str(MEDIA_CAP)}}
    async with outbound_world(database_url, bus_prefix, tmp_path, extra_env=capped) as world:
        config = world.platform.config
        async with (
            httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gateway,
            httpx.AsyncClient(base_url=config.url("sandbox"), timeout=30) as sandbox,
        ):
            key = await new_workspace(gateway, timezone="UTC")
            channel = await connect_x_channel(gateway, sandbox, key)

            # Straight at an internal address.
            direct = await publish_with_media(
                gateway, key, channel["id"], f"{world.internal.url}/secret.png"
            )
            assert world.internal.hits == []
            assert direct["status"] == "failed", direct
            assert "not a public address" in (direct["error"] or "")

            # Through an allowed host that redirects to it.
            hop = f"{world.allowed.url}/redirect?to={world.internal.url}/secret.png"
            redirected = await publish_with_media(gateway, key, channel["id"], hop)
            assert world.allowed.hits.count("/redirect") >= 1
            assert world.internal.hits == []
            assert redirected["status"] == "failed", redirected

            # An allowed host is read, but only up to the cap, even when it does not say
            # how much it will send.
            large = await publish_with_media(
                gateway, key, channel["id"], f"{world.allowed.url}/chunked?size={2 * MEDIA_CAP}"
            )
            assert large["status"] == "failed", large
            assert "larger than" in (large["error"] or "")


async def test_a_mastodon_instance_must_be_a_public_host(database_url, bus_prefix, tmp_path):
    async with outbound_world(database_url, bus_prefix, tmp_path) as world:
        config = world.platform.config
        async with (
            httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gateway,
            httpx.AsyncClient(base_url=config.url("sandbox"), timeout=30) as sandbox,
        ):
            key = await new_workspace(gateway, timezone="UTC")
            auth = {"Authorization": f"Bearer {key}"}
            account = (await sandbox.post("/_sandbox/mastodon/accounts", json={})).json()
            credentials = account["credentials"]
            publisher = config.url("publisher")
            for instance in (
                world.internal.url,
                publisher,
                "http://169.254.169.254",
                "http://[::ffff:127.0.0.1]:8002",
                "http://0.0.0.0:8002",
                "http://user:pw@" + world.allowed.host_port,
            ):
                r = await gateway.post(
                    "/v1/channels",
                    headers=auth,
                    json={
                        "network": "mastodon",
                        "credentials": {**credentials, "instance_url": instance},
                    },
                )
                assert r.status_code == 422, (instance, r.text)
                assert r.json()["field"] == "credentials.instance_url", r.text

            # The sandbox's own instance is allowed in development: the account connects.
            r = await gateway.post(
                "/v1/channels",
                headers=auth,
                json={"network": "mastodon", "credentials": credentials},
            )
            assert r.status_code == 201, r.text
            listed = (await gateway.get("/v1/channels", headers=auth)).json()
        assert [c["network"] for c in listed["items"]] == ["mastodon"]
        assert world.internal.hits == []
