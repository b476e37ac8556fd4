"""What Facebook, Instagram and Threads share: Graph-style routing, tokens, errors, insights."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import errors, moderation, oauth, subscriptions
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import bearer, json, params
from sandbox.media import SAMPLES, kind_from_url
from sandbox.state import Account, Post, Token

VERSION = re.compile(r"^v\d+\.\d+$")

Handler = Callable[[Sandbox, Request, str, list[str], dict[str, Any]], Awaitable[Response]]


def graph_router(network: str, handle: Handler) -> APIRouter:
    router = APIRouter(tags=[network])
    router.include_router(oauth.authorize_router(network, require_pkce=False))

    async def token(request: Request) -> Response:
        return await _token(network, request)

    for path in ("/oauth/access_token", "/{version}/oauth/access_token", "/access_token",
                 "/{version}/access_token", "/refresh_access_token",
                 "/{version}/refresh_access_token"):
        router.add_api_route(path, token, methods=["GET", "POST"], include_in_schema=False)

    @router.api_route("/{path:path}", methods=["GET", "POST", "DELETE"])
    async def graph(path: str, request: Request) -> Response:
        segments = [s for s in path.split("/") if s]
        if segments and VERSION.match(segments[0]):
            segments = segments[1:]
        if not segments:
            raise errors.graph_error("Unsupported request", 100, type_="GraphMethodException")
        sb = sandbox_of(request)
        p = await params(request)
        if len(segments) == 2 and segments[1] == "subscribed_apps":
            account = auth(sb, network, request, p)
            if segments[0] not in ("me", account.id):
                raise unsupported(request.method, segments)
            return subscriptions.meta_subscribed_apps(sb, network, account, request.method, p)
        if segments[0] in sb.state.posts[network]:
            answer = moderation.meta_moderation(
                sb, network, auth(sb, network, request, p), request.method, segments, p
            )
            if answer is not None:
                return answer
        return await handle(sb, request, request.method, segments, p)

    return router


def auth(sb: Sandbox, network: str, request: Request, p: dict[str, Any]) -> Account:
    value = p.get("access_token") or bearer(request)
    if not value:
        raise errors.graph_error("An active access token must be used to query information "
                                 "about the current user.", 2500)
    return sb.authenticate(network, str(value))


def unsupported(method: str, segments: list[str]) -> errors.NetError:
    node = segments[0]
    return errors.graph_error(
        f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, cannot "
        "be loaded due to missing permissions, or does not support this operation.",
        100, subcode=33, type_="GraphMethodException",
    )


def issue(sb: Sandbox, network: str, account: Account, *, person: bool = False
          ) -> dict[str, Any]:
    ttl = sb.settings.long_token_ttl_seconds
    tok = sb.state.issue(network, account.id, ttl=ttl, prefix=_prefix(network))
    tok.person = person
    return {"access_token": tok.value, "token_type": "bearer", "expires_in": ttl}


def token_of(sb: Sandbox, network: str, request: Request, p: dict[str, Any]) -> Token:
    """The token a Graph call came with (query or bearer)."""
    auth(sb, network, request, p)
    return sb.token(network, str(p.get("access_token") or bearer(request)))


def _prefix(network: str) -> str:
    return {"facebook": "EAAG", "instagram": "IGAA", "threads": "THAA"}[network]


async def _token(network: str, request: Request) -> Response:
    sb = sandbox_of(request)
    p = await params(request)
    grant = p.get("grant_type")
    try:
        if "code" in p:
            client_id, secret = oauth.client_credentials(request, p)
            oauth.check_client(sb, network, client_id, secret)
            account, _ = oauth.redeem_code(
                sb, network, code=str(p["code"]), client_id=client_id,
                redirect_uri=p.get("redirect_uri"), verifier=p.get("code_verifier"),
            )
            # Facebook Login answers with the person's token; their Pages' come from
            # /me/accounts.
            out = issue(sb, network, account, person=network == "facebook")
            if network in ("instagram", "threads"):
                out["user_id"] = account.id
            return json(out)
        if grant in ("fb_exchange_token", "ig_exchange_token", "th_exchange_token",
                     "ig_refresh_token", "th_refresh_token"):
            current = sb.token(network, str(p.get("fb_exchange_token") or p.get("access_token")
                                            or ""))
            account = sb.authenticate(network, current.value)
            return json(issue(sb, network, account, person=current.person))
    except oauth.OAuthFailure as exc:
        raise errors.graph_error(f"Error validating verification code: {exc.description}",
                                 100, subcode=36007) from exc
    raise errors.graph_error("Unsupported grant_type", 100)


def insights_response(post: Post, metrics: list[str], mapping: dict[str, str],
                      *, empty_until_measured: bool = False) -> Response:
    if empty_until_measured and "_age_hours" not in post.metrics:
        return json({"data": []})
    data = []
    for name in metrics:
        source = mapping.get(name)
        if source is None:
            raise errors.graph_error(
                f"(#100) metric[0] must be one of the following values: {', '.join(mapping)}",
                100,
            )
        value: Any = (
            {"like": post.count("likes")} if source == "reactions" else post.count(source)
        )
        data.append({
            "name": name, "period": "lifetime", "values": [{"value": value}],
            "title": name.replace("_", " ").title(), "description": "",
            "id": f"{post.id}/insights/{name}/lifetime",
        })
    return json({"data": data})


def metric_list(p: dict[str, Any], segments: list[str]) -> list[str]:
    if len(segments) > 2:
        return [segments[2]]
    return [m.strip() for m in str(p.get("metric", "")).split(",") if m.strip()]


def container_status(sb: Sandbox, container: dict[str, Any]) -> str:
    """IN_PROGRESS for the first poll(s), then FINISHED (or ERROR when the media turned out
    unusable), as a media fetch would take. Videos take a few polls more than images."""
    if container["status"] == "IN_PROGRESS":
        container["polls"] += 1
        if container["polls"] > sb.settings.processing_polls + container.get("extra_polls", 0):
            container["status"] = "ERROR" if container.get("error") else "FINISHED"
    status: str = container["status"]
    return status


VIDEO_EXTRA_POLLS = 2


def sample_mime(url: str) -> tuple[bool, str | None]:
    """Whether the network could fetch `url`, and the MIME type of what it would get.

    The sandbox's own samples (``/_sandbox/media/{name}``) are known without a fetch, so a
    name that is not a sample is a failed download; any other URL is judged by its name.
    """
    path = url.split("?", 1)[0]
    if "/_sandbox/media/" in path:
        sample = SAMPLES.get(path.rsplit("/", 1)[-1])
        return (sample is not None, sample[0] if sample else None)
    return True, kind_from_url(url)


def page_of(request: Request, p: dict[str, Any], items: list[Post],
            view: Callable[[Post], dict[str, Any]]) -> Response:
    """A Graph edge listing, newest first: `since`/`until` (unix seconds), `limit` (25 by
    default, 100 at most) and cursor paging with `paging.cursors` and `paging.next`."""
    since, until = p.get("since"), p.get("until")
    if since is not None and str(since).isdigit():
        items = [x for x in items if x.created_at >= int(str(since))]
    if until is not None and str(until).isdigit():
        items = [x for x in items if x.created_at <= int(str(until)) + 1]
    try:
        limit = max(1, min(100, int(p.get("limit", 25))))
        offset = int(base64.urlsafe_b64decode(str(p.get("after") or "MA==")).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.graph_error("(#100) Invalid paging parameters", 100) from exc
    chunk = items[offset : offset + limit]
    paging: dict[str, Any] = {}
    if chunk:
        after = base64.urlsafe_b64encode(str(offset + len(chunk)).encode()).decode()
        before = base64.urlsafe_b64encode(str(offset).encode()).decode()
        paging["cursors"] = {"before": before, "after": after}
        if offset + len(chunk) < len(items):
            paging["next"] = str(request.url.include_query_params(after=after))
    return json({"data": [view(x) for x in chunk], "paging": paging})


def day_usage(sb: Sandbox, network: str, account_id: str, kind: str = "post") -> int:
    since = time.time() - 86400
    return sum(
        1 for p in sb.state.account_posts(network, account_id)
        if p.created_at >= since and (p.reply_to is None) == (kind == "post")
    )


def graph_time(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))
