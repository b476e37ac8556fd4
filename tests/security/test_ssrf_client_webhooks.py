"""SSRF through client webhooks: a manager registers an internal URL as their endpoint, then
reads the internal service's answer back through the delivery log; or registers an endpoint
that answers slowly, so the delivery outlives its lease and is sent twice while the rest of
the batch waits behind it."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.gateway.models import WebhookAttempt, WebhookDelivery
from services.gateway.settings import GatewaySettings
from tests.e2e.flows import new_workspace, wait_for
from tests.gateway.support import bearer, running_gateway
from tests.security.outbound_support import outbound_world, running_target


async def test_internal_endpoints_are_refused_and_answers_are_not_readable_back(
    database_url, bus_prefix, tmp_path
):
    async with outbound_world(database_url, bus_prefix, tmp_path) as world:
        config = world.platform.config
        async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gateway:
            auth = {"Authorization": f"Bearer {await new_workspace(gateway)}"}
            publisher = config.url("publisher")
            for url in (
                f"{publisher}/v1/channels",
                f"{world.internal.url}/hook",
                "http://169.254.169.254/latest/meta-data/",
                f"http://localhost:{config.ports['scheduler']}/v1/posts",
                "http://[::1]:5432/",
                "http://[::ffff:127.0.0.1]:15672/api/users",
                "http://0.0.0.0:8002/",
                "http://100.64.0.1/",
                f"http://user:pw@{world.allowed.host_port}/hook",
            ):
                r = await gateway.post(
                    "/v1/webhooks", headers=auth, json={"url": url, "events": ["*"]}
                )
                assert r.status_code == 422, (url, r.text)
                assert r.json()["field"] == "url", r.text

            # An allowed endpoint that answers at length, control characters included.
            r = await gateway.post(
                "/v1/webhooks",
                headers=auth,
                json={"url": f"{world.allowed.url}/chatty", "events": ["*"]},
            )
            assert r.status_code == 201, r.text
            hook = r.json()
            # Changing it to an internal address is refused the same way.
            r = await gateway.patch(
                f"/v1/webhooks/{hook['id']}",
                headers=auth,
                json={"url": f"{world.internal.url}/hook"},
            )
            assert r.status_code == 422 and r.json()["field"] == "url", r.text
            r = await gateway.post(f"/v1/webhooks/{hook['id']}/test", headers=auth)
            assert r.status_code == 202, r.text

            async def attempted() -> list[dict[str, Any]]:
                log = (
                    await gateway.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth)
                ).json()
                return [a for d in log["items"] for a in d["attempt_log"]]

            [attempt] = await wait_for(attempted, seconds=60, what="a delivery attempt")

        assert world.internal.hits == []
        assert attempt["status_code"] == 500
        excerpt = attempt["response_snippet"]
        assert excerpt.startswith("root:x:0:0")
        assert len(excerpt) <= 200
        assert all(ch.isprintable() or ch in "\n\t" for ch in excerpt), repr(excerpt)


async def test_a_slow_endpoint_cannot_outlive_the_lease_nor_stall_the_batch(make_settings):
    # Two gateway replicas share the deliveries. The endpoint trickles its answer a byte at
    # a time for a minute: a per-read timeout never fires, the lease runs out, and the other
    # replica claims the same deliveries and sends them again.
    lease = 4.0
    async with running_target() as slow:
        settings: dict[str, Any] = {
            "outbound_allow": slow.host_port,
            "webhook_lease_seconds": lease,
            "webhook_timeout_seconds": 1.5,
            "webhook_concurrency": 1,
            "webhook_poll_seconds": 0.2,
            "webhook_retry_schedule_seconds": [3600],
        }
        async with (
            running_gateway(make_settings, **settings) as gw,
            running_gateway(make_settings, **settings),
        ):
            key = (await gw.workspace())["api_key"]
            r = await gw.client.post(
                "/v1/webhooks",
                headers=bearer(key),
                json={"url": f"{slow.url}/trickle?seconds=60", "events": ["*"]},
            )
            assert r.status_code == 201, r.text
            hook = r.json()
            for _ in range(3):
                r = await gw.client.post(f"/v1/webhooks/{hook['id']}/test", headers=bearer(key))
                assert r.status_code == 202, r.text

            async def settled_or_duplicated() -> list[WebhookDelivery] | None:
                async with gw.runtime.sessions() as session:
                    rows = list((await session.scalars(select(WebhookDelivery))).all())
                ids = slow.webhook_ids
                if len(ids) > len(set(ids)) or all(d.attempts for d in rows):
                    return rows
                return None

            deliveries = await wait_for(
                settled_or_duplicated,
                seconds=45,
                what="every delivery to be tried once, none twice (a slow endpoint held the rest)",
            )
            async with gw.runtime.sessions() as session:
                attempts = list((await session.scalars(select(WebhookAttempt))).all())

    assert len(slow.webhook_ids) == len(set(slow.webhook_ids)), "a delivery was sent twice"
    assert len(slow.webhook_ids) == 3
    assert [d.attempts for d in deliveries] == [1, 1, 1]
    assert all("within" in (a.error or "") for a in attempts)
    assert all(a.duration_ms < lease * 1000 for a in attempts)


def test_development_openings_are_refused_outside_development():
    real = {
        "environment": "production",
        "internal_token": "a-real-internal-token",
        "admin_token": "a-real-admin-token",
        "encryption_keys": {"k1": base64.b64encode(b"k" * 32).decode()},
        "active_key_id": "k1",
    }
    GatewaySettings(**real)
    with pytest.raises(ValueError, match="outbound_allow"):
        GatewaySettings(**real, outbound_allow="127.0.0.1:8002")
    with pytest.raises(ValueError, match="webhook_allow_http"):
        GatewaySettings(**real, webhook_allow_http=True)
    with pytest.raises(ValueError, match="shorter than webhook_lease_seconds"):
        GatewaySettings(webhook_timeout_seconds=60, webhook_lease_seconds=60)
    assert GatewaySettings(**real).webhook_outbound().allow_http is False
