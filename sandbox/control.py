"""The ``/_sandbox`` control API: accounts, app credentials, inspection, audience, faults."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sandbox import engagement, moderation, polls, subscriptions
from sandbox.core import Sandbox, sandbox_of
from sandbox.faults import FaultSpec
from sandbox.http import json, json_body
from sandbox.media import SAMPLES
from sandbox.state import NETWORKS, Ga4, Post

router = APIRouter(prefix="/_sandbox", include_in_schema=True, tags=["sandbox"])


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def _network(network: str) -> str:
    if network not in NETWORKS:
        raise HTTPException(404, f"unknown network {network!r}")
    return network


class AccountIn(BaseModel):
    name: str | None = None
    # Seconds until the access token expires (refreshable as the network allows).
    expires_in: float | None = Field(default=None, gt=0)


class CommentIn(BaseModel):
    text: str
    author: str | None = None


class MessageIn(BaseModel):
    account: str
    text: str
    author: str | None = None


class WebhookIn(BaseModel):
    url: str


class TickIn(BaseModel):
    hours: float = 1


class FollowersIn(BaseModel):
    followers: int = Field(ge=0)


# HEAD too: a publisher reads a video's size before choosing how to upload it.
@router.api_route("/media/{name}", methods=["GET", "HEAD"])
async def sample_media(name: str) -> Response:
    if name not in SAMPLES:
        raise HTTPException(404, "no such sample")
    mime, make = SAMPLES[name]
    return Response(make(), media_type=mime, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/pages/{slug}")
async def page(slug: str, request: Request) -> Response:
    """A web page with Open Graph tags (its image one of the samples), for link previews."""
    base = str(request.base_url).rstrip("/")
    title = html.escape(slug.replace("-", " ").title())
    body = (
        "<!doctype html><html><head>"
        f"<title>{title} | Sandbox</title>"
        f'<meta property="og:title" content="{title}">'
        f'<meta property="og:description" content="All about {title}.">'
        f'<meta property="og:image" content="{base}/_sandbox/media/sample.jpg">'
        f'<meta name="twitter:card" content="summary_large_image">'
        f"</head><body><h1>{title}</h1></body></html>"
    )
    return Response(body, media_type="text/html; charset=utf-8")


@router.post("/reset")
async def reset(request: Request) -> Response:
    sb = sandbox_of(request)
    sb.state.reset()
    sb.ga4 = Ga4()
    sb.faults.clear()
    sb.deliveries.log.clear()
    return json({"ok": True})


@router.get("/deliveries")
async def deliveries(request: Request, network: str | None = None) -> Response:
    sb = sandbox_of(request)
    items = [d for d in sb.deliveries.log if network is None or d["network"] == network]
    return json({"items": items})


@router.put("/faults")
async def put_faults(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        data = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, "body must be JSON") from exc
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    specs_in = data if isinstance(data, list) else [data]
    try:
        specs = [FaultSpec.model_validate(s) for s in specs_in]
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    expired = 0
    for spec in specs:
        if spec.network is not None:
            _network(spec.network)
        if spec.expire_tokens:
            expired += sb.state.expire_tokens(spec.network)
    sb.faults.set(
        [
            s
            for s in specs
            if s.error_rate or s.timeout_rate or s.latency_ms or s.rate_limit is not None
        ]
    )
    return json({"rules": sb.faults.describe(), "expired_tokens": expired})


@router.get("/faults")
async def get_faults(request: Request) -> Response:
    return json({"rules": sandbox_of(request).faults.describe()})


@router.delete("/faults")
async def delete_faults(request: Request) -> Response:
    sandbox_of(request).faults.clear()
    return json({"rules": []})


@router.post("/engagement/tick")
async def tick(request: Request) -> Response:
    sb = sandbox_of(request)
    body = await json_body(request) or {}
    hours = TickIn.model_validate(body).hours
    return json(engagement.tick(sb, hours))


@router.post("/{network}/accounts", status_code=201)
async def create_account(network: str, request: Request) -> Response:
    sb = sandbox_of(request)
    body = AccountIn.model_validate(await json_body(request) or {})
    return json(sb.new_account(_network(network), body.name, body.expires_in), 201)


@router.get("/{network}/accounts")
async def list_accounts(network: str, request: Request) -> Response:
    sb = sandbox_of(request)
    module = sb.networks[_network(network)]
    return json(
        {
            "items": [
                {"id": a.id, "external_id": module.external_id(a), "name": a.name,
                 "username": a.username}
                for a in sb.state.accounts[network].values()
            ]
        }
    )


@router.get("/{network}/accounts/{account_id}/pattern")
async def account_pattern(network: str, account_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.state.find_account(_network(network), account_id)
    if account is None:
        raise HTTPException(404, "no such account")
    return json(engagement.pattern(account))


@router.put("/{network}/accounts/{account_id}/followers")
async def put_followers(
    network: str, account_id: str, body: FollowersIn, request: Request
) -> Response:
    """Sets the follower count every profile endpoint of the network reports."""
    sb = sandbox_of(request)
    account = sb.state.find_account(_network(network), account_id)
    if account is None:
        raise HTTPException(404, "no such account")
    account.extra["followers"] = body.followers
    return json({"id": account.id, "followers": body.followers})


@router.get("/{network}/app")
async def app_credentials(network: str, request: Request) -> Response:
    app = sandbox_of(request).state.apps[_network(network)]
    return json(
        {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "verify_token": app.verify_token,
        }
    )


# What some networks hold beside the text, for tests to read: a YouTube title, a TikTok
# privacy, a Bluesky record, a LinkedIn article card, an Instagram or Facebook story or reel.
SHOWN_EXTRAS = ("title", "privacy", "rkey", "record", "article", "format")


def post_view(sb: Sandbox, post: Post) -> dict[str, Any]:
    module = sb.networks[post.network]
    account = sb.state.account(post.network, post.account_id or "")
    return {
        "id": post.id,
        "account": module.external_id(account) if account else post.account_id,
        "kind": post.kind,
        "text": post.text,
        "created_at": iso(post.created_at),
        "media": [{k: v for k, v in m.items() if k != "digest"} for m in post.media],
        "url": post.url,
        "reply_to": post.reply_to,
        "visibility": post.visibility,
        "deleted": post.deleted,
        "edited_at": iso(post.edited_at) if post.edited_at is not None else None,
        "poll": polls.view(post.extra.get("poll")),
        "metrics": {k: int(v) for k, v in post.metrics.items() if not k.startswith("_")},
        **{k: v for k, v in post.extra.items() if k in SHOWN_EXTRAS},
    }


def find_post(sb: Sandbox, network: str, ref: str) -> Post | None:
    """By the id the network answered with, or by the tail of it (a Bluesky rkey, the post part
    of a Facebook ``{page}_{post}`` id, the bare number of a LinkedIn URN)."""
    posts = sb.state.posts[network]
    post = posts.get(ref)
    if post is not None:
        return post
    if ref.startswith("at:/") and not ref.startswith("at://"):
        post = posts.get(ref.replace("at:/", "at://", 1))
        if post is not None:
            return post
    for candidate in posts.values():
        if ref in (candidate.extra.get("rkey"), candidate.extra.get("short_id")):
            return candidate
    return None


@router.get("/{network}/posts")
async def list_posts(network: str, request: Request, account: str | None = None) -> Response:
    sb = sandbox_of(request)
    _network(network)
    if account is not None:
        acc = sb.state.find_account(network, account)
        if acc is None:
            return json({"items": [], "duplicates": 0})
        posts = sb.state.account_posts(network, acc.id)
        dup = sb.state.duplicates(network, acc.id)
    else:
        posts = [p for p in sb.state.posts[network].values() if p.account_id is not None]
        dup = sum(sb.state.duplicates(network, a) for a in sb.state.accounts[network])
    return json({"items": [post_view(sb, p) for p in posts], "duplicates": dup})


@router.get("/{network}/subscriptions")
async def list_subscriptions(network: str, request: Request) -> Response:
    """The webhook subscriptions the network holds, live ones only."""
    sb = sandbox_of(request)
    subs = sb.state.subscriptions[_network(network)].values()
    now = time.time()
    return json([subscriptions.view(sb, s) for s in subs if s.live(now)])


@router.get("/{network}/posts/{post_id:path}/comments")
async def list_comments(network: str, post_id: str, request: Request) -> Response:
    """Every comment under the post, with what moderation did to it (hidden, deleted)."""
    sb = sandbox_of(request)
    post = find_post(sb, _network(network), post_id)
    if post is None:
        raise HTTPException(404, "no such post")
    return json({"items": moderation.comments_view(sb, network, post)})


@router.post("/{network}/posts/{post_id:path}/comments", status_code=201)
async def add_comment(network: str, post_id: str, body: CommentIn, request: Request) -> Response:
    sb = sandbox_of(request)
    module = sb.networks[_network(network)]
    post = find_post(sb, network, post_id)
    if post is None:
        raise HTTPException(404, "no such post")
    result = module.add_comment(sb, post, body.text, body.author or "Sandbox Fan")
    return json(result, 201)


class VotesIn(BaseModel):
    option: int = Field(ge=0, le=3)
    count: int = Field(default=1, ge=1, le=1_000_000)


@router.post("/{network}/posts/{post_id:path}/votes")
async def add_votes(network: str, post_id: str, body: VotesIn, request: Request) -> Response:
    """The audience votes in a post's poll (while it is open), as people would."""
    sb = sandbox_of(request)
    _network(network)
    post = find_post(sb, network, post_id)
    if post is None or post.deleted:
        raise HTTPException(404, "no such post")
    poll = post.extra.get("poll")
    if poll is None or body.option >= len(poll["options"]):
        raise HTTPException(404, "no such poll option")
    if not polls.is_open(poll):
        raise HTTPException(409, "the poll has closed")
    poll["options"][body.option]["votes"] += body.count
    return json(polls.view(poll))


@router.post("/{network}/messages", status_code=201)
async def add_message(network: str, body: MessageIn, request: Request) -> Response:
    sb = sandbox_of(request)
    module = sb.networks[_network(network)]
    account = sb.state.find_account(network, body.account)
    if account is None:
        raise HTTPException(404, "no such account")
    if not hasattr(module, "add_message"):
        raise HTTPException(400, f"{network} has no direct messages in the sandbox")
    return json(module.add_message(sb, account, body.text, body.author or "Sandbox Fan"), 201)


@router.post("/{network}/mentions", status_code=201)
async def add_mention(network: str, body: MessageIn, request: Request) -> Response:
    """Someone names the account in a post of their own (where the network pushes that)."""
    sb = sandbox_of(request)
    module = sb.networks[_network(network)]
    account = sb.state.find_account(network, body.account)
    if account is None:
        raise HTTPException(404, "no such account")
    if not hasattr(module, "add_mention"):
        raise HTTPException(400, f"{network} has no mentions in the sandbox")
    return json(module.add_mention(sb, account, body.text, body.author or "Sandbox Fan"), 201)


@router.put("/{network}/webhook")
async def put_webhook(network: str, body: WebhookIn, request: Request) -> Response:
    sb = sandbox_of(request)
    ok, detail = await sb.deliveries.handshake(_network(network), body.url)
    if not ok:
        raise HTTPException(400, f"webhook handshake failed: {detail}")
    sb.state.webhook_urls[network] = body.url
    return json({"network": network, "url": body.url, "verified": True, "detail": detail})


@router.get("/{network}/webhook")
async def get_webhook(network: str, request: Request) -> Response:
    sb = sandbox_of(request)
    return json({"network": network, "url": sb.deliveries.url(_network(network))})
