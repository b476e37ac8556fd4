"""Webhook subscriptions the fake networks hold, and the calls that make and end them.

A real network pushes an account's events only after someone subscribed that account: Meta
per Page (or Instagram/Threads account) with ``/{id}/subscribed_apps``, X per user on a
registered (CRC-checked) webhook, LinkedIn per organisation with an event subscription,
YouTube through its WebSub hub for a lease, verified by a callback to the subscriber. The
sandbox keeps the same records (``GET /_sandbox/{network}/subscriptions``) and delivers only
to subscribed accounts.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import errors
from sandbox.core import sandbox_of
from sandbox.http import bearer, json, params
from sandbox.state import Subscription

if TYPE_CHECKING:
    from sandbox.core import Sandbox
    from sandbox.state import Account

# What each Meta product lets an app subscribe an account to (the fields the inbox needs).
META_FIELDS = {
    "facebook": frozenset({"feed", "mention", "messages"}),
    "instagram": frozenset({"comments", "mentions", "messages"}),
    "threads": frozenset({"replies", "mentions"}),
}
LINKEDIN_EVENTS = frozenset({"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS"})
# YouTube's hub grants at most about ten days, whatever is asked.
WEBSUB_MAX_LEASE = 10 * 24 * 3600
WEBSUB_DEFAULT_LEASE = 5 * 24 * 3600


def subscription_of(sb: Sandbox, network: str, account_id: str) -> Subscription | None:
    sub = sb.state.subscriptions[network].get(account_id)
    return sub if sub is not None and sub.live(time.time()) else None


def view(sb: Sandbox, sub: Subscription) -> dict[str, Any]:
    module = sb.networks[sub.network]
    account = sb.state.account(sub.network, sub.account_id)
    return {
        "account": module.external_id(account) if account else sub.account_id,
        "topics": sub.topics,
        "callback": sub.callback or sb.deliveries.url(sub.network),
        "expires_at": sub.expires_at,
    }


# Meta ---------------------------------------------------------------------------------------


def meta_subscribed_apps(
    sb: Sandbox, network: str, account: Account, method: str, p: dict[str, Any]
) -> Response:
    """``/{id}/subscribed_apps``: GET lists, POST subscribes (``subscribed_fields``), DELETE
    ends it."""
    subs = sb.state.subscriptions[network]
    app = sb.state.apps[network]
    if method == "DELETE":
        subs.pop(account.id, None)
        return json({"success": True})
    if method == "POST":
        wanted = [f.strip() for f in str(p.get("subscribed_fields", "")).split(",") if f.strip()]
        if not wanted:
            raise errors.graph_error("(#100) The parameter subscribed_fields is required", 100)
        unknown = [f for f in wanted if f not in META_FIELDS[network]]
        if unknown:
            raise errors.graph_error(
                f"(#100) Param subscribed_fields[0] must be one of {{"
                f'{", ".join(sorted(META_FIELDS[network]))}}} - got "{unknown[0]}"',
                100,
            )
        subs[account.id] = Subscription(network, account.id, wanted, None, None)
        return json({"success": True})
    sub = subs.get(account.id)
    data = (
        []
        if sub is None
        else [
            {
                "category": "Business",
                "link": "https://herald.example",
                "name": "Herald",
                "id": app.client_id,
                "subscribed_fields": sub.topics,
            }
        ]
    )
    return json({"data": data})


# X --------------------------------------------------------------------------------------------


def x_router() -> APIRouter:
    router = APIRouter()

    def app_only(sb: Sandbox, request: Request) -> None:
        token = sb.state.tokens.get(bearer(request) or "")
        if token is None or token.network != "x" or token.kind != "app":
            raise errors.x_problem(401, "Unauthorized", "Unauthorized")

    @router.post("/2/webhooks")
    async def register_webhook(request: Request) -> Response:
        """Registers the app's webhook URL after a CRC check of it."""
        sb = sandbox_of(request)
        app_only(sb, request)
        url = str((await params(request)).get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise errors.x_problem(400, "Invalid Request", "url must be an http(s) URL")
        ok, detail = await sb.deliveries.handshake("x", url)
        if not ok:
            raise errors.x_problem(400, "CrcValidationFailed", f"CRC check failed: {detail}")
        hooks: dict[str, str] = sb.state.kv["x"].setdefault("webhooks", {})
        for hook_id, known in hooks.items():
            if known == url:
                return json({"data": {"id": hook_id, "url": url, "valid": True}})
        hook_id = sb.state.snowflake()
        hooks[hook_id] = url
        return json({"data": {"id": hook_id, "url": url, "valid": True}})

    @router.get("/2/webhooks")
    async def list_webhooks(request: Request) -> Response:
        sb = sandbox_of(request)
        app_only(sb, request)
        hooks = sb.state.kv["x"].get("webhooks", {})
        return json(
            {
                "data": [{"id": i, "url": u, "valid": True} for i, u in hooks.items()],
                "meta": {"result_count": len(hooks)},
            }
        )

    @router.post("/2/account_activity/webhooks/{webhook_id}/subscriptions/all")
    async def subscribe(webhook_id: str, request: Request) -> Response:
        """Subscribes the user whose token calls to the app's webhook."""
        sb = sandbox_of(request)
        account = sb.authenticate("x", bearer(request))
        url = sb.state.kv["x"].get("webhooks", {}).get(webhook_id)
        if url is None:
            raise errors.x_problem(404, "Not Found Error", f"webhook {webhook_id} not found")
        sb.state.subscriptions["x"][account.id] = Subscription(
            "x", account.id, ["account_activity"], url, None
        )
        return json({"data": {"subscribed": True}})

    @router.delete("/2/account_activity/webhooks/{webhook_id}/subscriptions/{user_id}/all")
    async def unsubscribe(webhook_id: str, user_id: str, request: Request) -> Response:
        sb = sandbox_of(request)
        app_only(sb, request)
        sb.state.subscriptions["x"].pop(user_id, None)
        return json({"data": {"subscribed": False}})

    return router


# LinkedIn -------------------------------------------------------------------------------------


def linkedin_router() -> APIRouter:
    """``/rest/eventSubscriptions/(developerApplication:…,user:…,entity:…,eventType:…)``."""
    router = APIRouter()

    def key_of(raw: str) -> dict[str, str]:
        inner = raw.strip().removeprefix("(").removesuffix(")")
        out: dict[str, str] = {}
        for part in inner.split(","):
            name, _, value = part.partition(":")
            out[name] = value
        return out

    @router.put("/rest/eventSubscriptions/{key:path}")
    async def put_subscription(key: str, request: Request) -> Response:
        sb = sandbox_of(request)
        account = sb.authenticate("linkedin", bearer(request))
        parts = key_of(key)
        if parts.get("eventType") not in LINKEDIN_EVENTS:
            raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", "unknown eventType")
        if parts.get("entity") != account.extra.get("urn"):
            raise errors.linkedin_error(
                403, "ACCESS_DENIED", "Not enough permissions to access: eventSubscriptions"
            )
        body = await params(request)
        webhook = str(body.get("webhook") or "")
        if not webhook:
            raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", "webhook is required")
        ok, detail = await sb.deliveries.handshake("linkedin", webhook)
        if not ok:
            raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", f"webhook not validated: {detail}")
        sb.state.subscriptions["linkedin"][account.id] = Subscription(
            "linkedin", account.id, [parts["eventType"]], webhook, None
        )
        return Response(status_code=201)

    @router.delete("/rest/eventSubscriptions/{key:path}")
    async def delete_subscription(key: str, request: Request) -> Response:
        sb = sandbox_of(request)
        account = sb.authenticate("linkedin", bearer(request))
        sb.state.subscriptions["linkedin"].pop(account.id, None)
        return Response(status_code=204)

    return router


# YouTube (WebSub hub) -------------------------------------------------------------------------


def youtube_router() -> APIRouter:
    """``POST /websub/hub`` (pubsubhubbub.appspot.com): 202, then the hub verifies the intent
    with a GET to the callback and only then holds the subscription."""
    router = APIRouter()

    @router.post("/websub/hub", status_code=202)
    async def hub(request: Request) -> Response:
        sb = sandbox_of(request)
        p = await params(request)
        mode = str(p.get("hub.mode") or "")
        callback = str(p.get("hub.callback") or "")
        topic = str(p.get("hub.topic") or "")
        channel = (parse_qs(urlsplit(topic).query).get("channel_id") or [""])[0]
        if mode not in ("subscribe", "unsubscribe") or not callback.startswith(
            ("http://", "https://")
        ):
            return Response("Invalid hub.mode or hub.callback", status_code=400)
        if urlsplit(topic).path != "/xml/feeds/videos.xml" or not sb.state.account(
            "youtube", channel
        ):
            return Response("Invalid topic", status_code=400)
        try:
            lease = int(str(p.get("hub.lease_seconds") or WEBSUB_DEFAULT_LEASE))
        except ValueError:
            return Response("Invalid hub.lease_seconds", status_code=400)
        lease = max(60, min(lease, WEBSUB_MAX_LEASE))
        secret = str(p["hub.secret"]) if p.get("hub.secret") else None
        task = asyncio.get_running_loop().create_task(
            _verify_intent(
                sb,
                mode=mode,
                callback=callback,
                topic=topic,
                channel=channel,
                lease=lease,
                secret=secret,
                verify_token=str(p.get("hub.verify_token") or ""),
            )
        )
        sb.deliveries.keep(task)
        return Response(status_code=202)

    return router


async def _verify_intent(
    sb: Sandbox,
    *,
    mode: str,
    callback: str,
    topic: str,
    channel: str,
    lease: int,
    secret: str | None,
    verify_token: str,
) -> None:
    challenge = secrets.token_urlsafe(16)
    query = {
        "hub.mode": mode,
        "hub.topic": topic,
        "hub.challenge": challenge,
        "hub.lease_seconds": str(lease),
    }
    if verify_token:
        query["hub.verify_token"] = verify_token
    url = f"{callback}{'&' if '?' in callback else '?'}{urlencode(query)}"
    try:
        resp = await sb.deliveries.client.get(url)
        confirmed = resp.status_code // 100 == 2 and resp.text.strip() == challenge
    except httpx.HTTPError:
        confirmed = False
    log = sb.state.kv["youtube"].setdefault("hub_verifications", [])
    log.append(
        {
            "mode": mode,
            "topic": topic,
            "callback": callback,
            "confirmed": confirmed,
            "at": time.time(),
        }
    )
    if not confirmed:
        return
    if mode == "unsubscribe":
        sb.state.subscriptions["youtube"].pop(channel, None)
        return
    sb.state.subscriptions["youtube"][channel] = Subscription(
        "youtube", channel, [topic], callback, time.time() + lease, secret=secret
    )
