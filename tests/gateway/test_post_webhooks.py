"""The post lifecycle reaches a client's webhook: scheduled, edited, deleted, and a post whose
every target failed, through the whole platform."""

from __future__ import annotations

import httpx

from tests.gateway.world import build_world, hook_receiver, ok
from tests.support.waits import until

EVENTS = ["post.scheduled", "post.edited", "post.deleted", "post.failed", "post.partially_failed"]


async def test_post_lifecycle_events_are_delivered(api_platform):
    config = api_platform.config
    async with (
        hook_receiver() as hook_url,
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gw,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=30) as sandbox,
    ):
        world = await build_world(api_platform, hook_url=hook_url)
        h = world.owner
        webhook = ok(
            await gw.post(
                "/v1/webhooks", json={"url": f"{hook_url}/lifecycle", "events": EVENTS}, headers=h
            )
        )
        post = ok(
            await gw.post(
                "/v1/posts",
                json={
                    "text": f"{world.marker} soon",
                    "targets": [{"channel_id": world.ids["channel_id"]}],
                    "schedule": {"at": "2031-01-01T09:00:00", "timezone": "UTC"},
                },
                headers=h,
            )
        )
        ok(
            await gw.patch(
                f"/v1/posts/{post['id']}",
                json={"text": f"{world.marker} soon, better"},
                headers={**h, "If-Match": '"1"'},
            )
        )
        ok(await gw.delete(f"/v1/posts/{post['id']}", headers=h))

        # The network refuses everything for a moment: the next post fails on its only channel.
        ok(
            await sandbox.put(
                "/_sandbox/faults", json={"network": "x", "error_rate": 1.0, "status": 400}
            ),
            200,
            204,
        )
        try:
            doomed = ok(
                await gw.post(
                    "/v1/posts",
                    json={
                        "text": f"{world.marker} refused",
                        "targets": [{"channel_id": world.ids["channel_id"]}],
                        "schedule": {"now": True},
                    },
                    headers=h,
                )
            )
            wanted = {
                ("post.scheduled", post["id"]),
                ("post.edited", post["id"]),
                ("post.deleted", post["id"]),
                ("post.failed", doomed["id"]),
            }
            seen: set[tuple[str, str]] = set()

            async def delivered() -> bool:
                r = await gw.get(
                    f"/v1/webhooks/{webhook['id']}/deliveries",
                    params={"limit": 100, "status": "succeeded"},
                    headers=h,
                )
                for item in ok(r)["items"]:
                    seen.add((item["event_type"], item.get("payload", {}).get("data", {})
                              .get("post_id", "")))  # fmt: skip
                return wanted <= seen

            await until(delivered, timeout=90, every=0.5, what=f"deliveries of {sorted(wanted)}")
        finally:
            await sandbox.delete("/_sandbox/faults")
        assert wanted <= seen, sorted(seen)
        assert ("post.partially_failed", doomed["id"]) not in seen
