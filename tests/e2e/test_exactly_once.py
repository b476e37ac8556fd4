"""Connections to RabbitMQ are cut again and again while posts flow: every post still goes
out exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from urllib.parse import urlsplit

import httpx

from deploy.runner import Platform
from tests.conftest import AMQP_URL
from tests.e2e.conftest import platform_config
from tests.e2e.flows import connect_x_channel, local_wall_clock, new_workspace, wait_for
from tests.support.tcp_proxy import TcpProxy

POSTS = 20


async def test_posts_published_exactly_once_while_broker_connections_are_cut(
    database_url, bus_prefix, tmp_path
):
    broker = urlsplit(AMQP_URL)
    proxy = TcpProxy(target_host=broker.hostname or "localhost", target_port=broker.port or 5672)
    await proxy.start()
    config = platform_config(
        database_url,
        bus_prefix,
        amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
        tmp_path=tmp_path,
    )
    platform = Platform(config)
    try:
        await platform.start()
        async with (
            httpx.AsyncClient(base_url=config.url("gateway"), timeout=10) as gateway,
            httpx.AsyncClient(base_url=config.url("sandbox"), timeout=10) as sandbox,
        ):
            key = await new_workspace(gateway, timezone="UTC")
            auth = {"Authorization": f"Bearer {key}"}
            channel = await connect_x_channel(gateway, sandbox, key)
            texts = [f"Post {i} {uuid.uuid4().hex[:6]}" for i in range(POSTS)]
            post_ids = []
            for i, text in enumerate(texts):
                r = await gateway.post(
                    "/v1/posts",
                    headers=auth,
                    json={
                        "text": text,
                        "targets": [{"channel_id": channel["id"]}],
                        # Spread over a few seconds so the cuts land mid-flow.
                        "schedule": {"at": local_wall_clock(2 + i * 0.2, "UTC"), "timezone": "UTC"},
                    },
                )
                assert r.status_code == 201, r.text
                post_ids.append(r.json()["id"])

            cuts = 0
            for _ in range(25):
                await asyncio.sleep(0.25)
                cuts += proxy.cut()
            assert cuts > 0, "connections were actually cut"

            async def all_published():
                done = 0
                for post_id in post_ids:
                    r = await gateway.get(f"/v1/posts/{post_id}", headers=auth)
                    done += r.json()["targets"][0]["status"] == "published"
                return done == POSTS or None

            await wait_for(all_published, seconds=90, interval=0.5, what="all posts published")
            await asyncio.sleep(2)  # anything redelivered late would land by now
            held = (
                await sandbox.get(
                    "/_sandbox/x/posts", params={"account": channel["account"]["external_id"]}
                )
            ).json()
            counts = Counter(p["text"] for p in held["items"])
            assert counts == Counter(texts), "each post exactly once on the network"
            assert held["duplicates"] == 0
    finally:
        platform.stop()
        await proxy.stop()
