"""A workspace with one of everything, made through the public API of a running platform.

Every piece of text the workspace holds carries the workspace's own marker, so a test can tell
at a glance whether any of it shows up in an answer meant for someone else.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from deploy.runner import Platform
from tests.gateway.conftest import HOOK_PORT, new_workspace
from tests.support.servers import serve
from tests.support.waits import until


@dataclass
class World:
    marker: str
    workspace_id: str
    owner_key: str
    owner_key_id: str
    ids: dict[str, str] = field(default_factory=dict)
    # The member who joined by invitation, with the lowest role.
    analyst_key: str = ""
    link_code: str = ""

    @property
    def owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_key}"}

    @property
    def analyst(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.analyst_key}"}

    def secrets(self) -> list[str]:
        """Strings that only this workspace's callers may ever read."""
        return [self.marker, *self.ids.values(), self.workspace_id, self.link_code]


@contextlib.asynccontextmanager
async def hook_receiver() -> AsyncIterator[str]:
    """A client's webhook endpoint that accepts every delivery; yields its base URL."""
    hooks = FastAPI()

    @hooks.post("/{path:path}")
    async def receive(request: Request) -> Response:
        await request.body()
        return Response(status_code=204)

    async with serve(hooks, port=HOOK_PORT) as url:
        yield url


def ok(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    expected = statuses or (200, 201)
    assert r.status_code in expected, f"{r.request.method} {r.request.url}: {r.text}"
    body: dict[str, Any] = r.json() if r.content else {}
    return body


async def build_world(platform: Platform, *, hook_url: str) -> World:
    """A workspace with a channel, a scheduled post and a template of it, a conversation, a
    saved reply, a rule, keywords, a short link, a webhook with one delivery, an invited member
    and extra keys."""
    config = platform.config
    marker = f"mk{uuid.uuid4().hex[:10]}"
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gw,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=30) as sandbox,
    ):
        ws = await new_workspace(gw, marker)
        world = World(
            marker=marker,
            workspace_id=ws["id"],
            owner_key=ws["api_key"],
            owner_key_id=ws["api_key_id"],
        )
        h = world.owner
        account = (
            await sandbox.post("/_sandbox/x/accounts", json={"name": f"{marker} brand"})
        ).json()
        channel = ok(
            await gw.post(
                "/v1/channels",
                json={
                    "network": "x",
                    "credentials": account["credentials"],
                    "name": f"{marker} channel",
                },
                headers=h,
            )
        )
        world.ids["channel_id"] = channel["id"]
        ok(
            await gw.put(
                f"/v1/channels/{channel['id']}/slots",
                json=[{"weekday": 1, "time": "09:30", "cap": 2}],
                headers=h,
            )
        )
        at = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
        post = ok(
            await gw.post(
                "/v1/posts",
                json={
                    "text": f"{marker} launch post",
                    "targets": [{"channel_id": channel["id"]}],
                    "schedule": {"at": at.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC"},
                    "tags": [marker],
                    "campaign": marker,
                },
                headers=h,
            )
        )
        world.ids["post_id"] = post["id"]
        # The post's campaign (named by the marker) became a campaign of its own.
        world.ids["campaign_id"] = post["campaign_id"]
        template = ok(
            await gw.post(
                f"/v1/posts/{post['id']}/template", json={"name": f"{marker} template"}, headers=h
            )
        )
        world.ids["template_id"] = template["id"]
        reply = ok(
            await gw.post(
                "/v1/saved-replies",
                json={"name": f"{marker} thanks", "text": f"{marker} thank you!"},
                headers=h,
            )
        )
        world.ids["reply_id"] = reply["id"]
        rule = ok(
            await gw.post(
                "/v1/inbox/rules",
                json={"name": f"{marker} rule", "pattern": f"{marker}word", "tags": [marker]},
                headers=h,
            )
        )
        world.ids["rule_id"] = rule["id"]
        ok(
            await gw.put(
                "/v1/inbox/keywords",
                json={"keywords": [{"term": f"{marker}kw", "weight": 2}]},
                headers=h,
            )
        )
        link = ok(
            await gw.post(
                "/v1/links",
                json={"url": f"https://example.com/{marker}", "post_id": post["id"]},
                headers=h,
            )
        )
        world.ids["link_id"] = link["id"]
        world.link_code = link["code"]
        now = datetime.now(UTC)
        report = ok(
            await gw.post(
                "/v1/reports",
                json={"from": (now - timedelta(days=30)).isoformat(), "to": now.isoformat(),
                      "campaign_id": marker},
                headers=h,
            ),
            202,
        )
        world.ids["report_id"] = report["id"]
        schedule = ok(
            await gw.post("/v1/reports/schedules", json={"campaign_id": marker}, headers=h), 201
        )
        world.ids["schedule_id"] = schedule["id"]
        ok(
            await gw.put(
                "/v1/analytics/ga4",
                json={"measurement_id": "G-WORLD1234", "api_secret": f"{marker}-secret"},
                headers=h,
            )
        )
        webhook = ok(
            await gw.post(
                "/v1/webhooks",
                json={"url": f"{hook_url}/{marker}", "events": ["post.published"]},
                headers=h,
            )
        )
        world.ids["webhook_id"] = webhook["id"]
        ok(await gw.post(f"/v1/webhooks/{webhook['id']}/test", headers=h), 200, 201, 202)
        extra = ok(
            await gw.post(
                "/v1/api-keys", json={"name": f"{marker} ci", "role": "editor"}, headers=h
            )
        )
        world.ids["key_id"] = extra["id"]
        invitation = ok(
            await gw.post(
                "/v1/members/invitations",
                json={"email": f"{marker}@example.com", "role": "analyst"},
                headers=h,
            )
        )
        joined = ok(
            await gw.post(
                "/v1/members/accept",
                json={"token": invitation["token"], "name": f"{marker} analyst"},
            )
        )
        world.ids["member_id"] = joined["member"]["id"]
        world.analyst_key = joined["api_key"]
        world.ids["analyst_key_id"] = joined["api_key_id"]

        ok(
            await sandbox.post(
                "/_sandbox/x/messages",
                json={
                    "account": account["external_id"],
                    "text": f"{marker} hello",
                    "author": f"{marker}fan",
                },
            ),
            201,
        )
        conversation = await eventually(
            lambda: gw.get("/v1/conversations", headers=h), what="the DM in the inbox"
        )
        world.ids["conversation_id"] = conversation["id"]
        detail = ok(await gw.get(f"/v1/conversations/{conversation['id']}", headers=h))
        messages = detail.get("messages") or []
        if messages:
            world.ids["message_id"] = messages[0]["id"]
        deliveries = await eventually(
            lambda: gw.get(f"/v1/webhooks/{webhook['id']}/deliveries", headers=h),
            what="the test delivery",
            done=lambda item: item.get("status") == "succeeded",
        )
        world.ids["delivery_id"] = deliveries["id"]
    return world


async def eventually(
    get: Any, *, what: str, seconds: float = 30, done: Any = None
) -> dict[str, Any]:
    """The first item of the list `get()` answers, once there is one (and it is `done`)."""
    answered: list[Any] = [None]

    async def first_item() -> dict[str, Any] | None:
        r = await get()
        answered[0] = r.json() if r.status_code == 200 else r.text
        if r.status_code == 200 and answered[0]["items"]:
            item: dict[str, Any] = answered[0]["items"][0]
            if done is None or done(item):
                return item
        return None

    try:
        found: dict[str, Any] = await until(first_item, timeout=seconds, every=0.3, what=what)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what}; last: {answered[0]!r}") from None
    return found
