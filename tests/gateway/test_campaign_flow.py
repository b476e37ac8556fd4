"""A campaign run through the whole platform: made in the scheduler, a post in it published on
the sandbox, its link clicked, a conversion recorded, and the conversion rate read from the
report metrics builds from the events it heard."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.world import build_world, hook_receiver, ok
from tests.support.waits import until

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


async def _until(get: Any, done: Any, *, what: str, seconds: float = 60) -> dict[str, Any]:
    answered: list[Any] = [None]

    async def done_answer() -> dict[str, Any] | None:
        r = await get()
        answered[0] = r.json() if r.status_code == 200 else r.text
        return dict(answered[0]) if r.status_code == 200 and done(answered[0]) else None

    try:
        found: dict[str, Any] = await until(done_answer, timeout=seconds, every=0.3, what=what)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what}; last: {answered[0]!r}") from None
    return found


async def test_run_a_campaign_and_read_its_conversion_rate(api_platform):
    config = api_platform.config
    async with (
        hook_receiver() as hook_url,
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gw,
    ):
        world = await build_world(api_platform, hook_url=hook_url)
        h = world.owner
        campaign = ok(
            await gw.post(
                "/v1/campaigns",
                json={
                    "name": f"{world.marker} launch",
                    "goal": {"metric": "conversions", "target": 2},
                    "utm": {"source": "x", "medium": "social"},
                },
                headers=h,
            )
        )
        post = ok(
            await gw.post(
                "/v1/posts",
                json={
                    "text": f"{world.marker} out now",
                    "targets": [{"channel_id": world.ids["channel_id"]}],
                    "schedule": {"now": True},
                    "campaign_id": campaign["id"],
                },
                headers=h,
            )
        )
        await _until(
            lambda: gw.get(f"/v1/posts/{post['id']}", headers=h),
            lambda body: body["status"] == "published",
            what="the post on the network",
        )
        link = ok(
            await gw.post(
                "/v1/links",
                json={"url": "https://shop.example.com/launch", "post_id": post["id"]},
                headers=h,
            )
        )
        for _ in range(2):
            r = await gw.get(f"/l/{link['code']}", headers={"user-agent": DESKTOP})
            assert r.status_code == 302
        ok(await gw.post("/v1/conversions", json={"link_code": link["code"]}, headers=h))

        report = await _until(
            lambda: gw.get(f"/v1/campaigns/{campaign['id']}/report", headers=world.analyst),
            lambda body: body["totals"]["posts"] == 1 and body["totals"]["conversions"] == 1,
            what="the campaign's report",
        )
        assert report["name"] == f"{world.marker} launch"
        assert report["networks"] == [
            {"network": "x", "posts": 1, "reach": 0.0, "engagements": 0.0, "clicks": 2,
             "conversions": 1, "conversion_rate": 0.5},
        ]  # fmt: skip
        assert report["goal"]["progress"] == 0.5
