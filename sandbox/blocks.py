"""Blocking a person, where the networks let an account do it through their API.

- Mastodon: `POST /api/v1/accounts/:id/block` answers the Relationship (`blocking: true`),
  idempotent; `GET /api/v1/blocks` lists them. An unknown account is 404 Record not found.
- X: `POST /2/users/:id/blocking` with `{"target_user_id"}`, `:id` the authenticated user
  (another is 403), the token must carry `block.write`; `GET /2/users/:id/blocking`.
- Bluesky: an `app.bsky.graph.block` record (`subject` a DID) written with createRecord;
  listRecords shows them.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import errors
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import bearer, json, json_body
from sandbox.networks.common import iso

BLUESKY_BLOCK = "app.bsky.graph.block"


def _blocked(sb: Sandbox, network: str, account_id: str) -> dict[str, Any]:
    found: dict[str, Any] = sb.state.kv[network].setdefault(("blocks", account_id), {})
    return found


def _person(sb: Sandbox, network: str, person_id: str) -> Any:
    return sb.state.fan_ids.get((network, person_id)) or sb.state.account(network, person_id)


def mastodon_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/accounts/{account_id}/block")
    async def block(account_id: str, request: Request) -> Response:
        sb = sandbox_of(request)
        me = sb.authenticate("mastodon", bearer(request))
        if _person(sb, "mastodon", account_id) is None or account_id == me.id:
            raise errors.mastodon_error(404, "Record not found")
        _blocked(sb, "mastodon", me.id)[account_id] = time.time()
        return json({"id": account_id, "following": False, "showing_reblogs": False,
                     "notifying": False, "followed_by": False, "blocking": True,
                     "blocked_by": False, "muting": False, "muting_notifications": False,
                     "requested": False, "domain_blocking": False, "endorsed": False,
                     "note": ""})

    @router.get("/api/v1/blocks")
    async def blocks(request: Request) -> Response:
        sb = sandbox_of(request)
        me = sb.authenticate("mastodon", bearer(request))
        people = [_person(sb, "mastodon", pid) for pid in _blocked(sb, "mastodon", me.id)]
        return json([{"id": p.id, "username": p.username, "acct": p.username,
                      "display_name": p.name} for p in people])

    return router


def x_router() -> APIRouter:
    router = APIRouter()

    @router.post("/2/users/{user_id}/blocking")
    async def block(user_id: str, request: Request) -> Response:
        sb = sandbox_of(request)
        value = bearer(request)
        me = sb.authenticate("x", value)
        token = sb.state.tokens.get(value or "")
        if token is None or "block.write" not in token.scope.split():
            raise errors.x_problem(403, "Forbidden", "Missing scope: block.write")
        if user_id != me.id:
            raise errors.x_problem(403, "Forbidden", "You can only block as the authenticated user")
        body = await json_body(request) or {}
        target = str(body.get("target_user_id") or "")
        if not target:
            raise errors.x_invalid("target_user_id is required")
        if _person(sb, "x", target) is None:
            raise errors.x_invalid(f"Could not find user with id: [{target}].")
        _blocked(sb, "x", me.id)[target] = time.time()
        return json({"data": {"blocking": True}})

    @router.get("/2/users/{user_id}/blocking")
    async def blocking(user_id: str, request: Request) -> Response:
        sb = sandbox_of(request)
        sb.authenticate("x", bearer(request))
        people = [_person(sb, "x", pid) for pid in _blocked(sb, "x", user_id)]
        return json({"data": [{"id": p.id, "name": p.name, "username": p.username}
                              for p in people], "meta": {"result_count": len(people)}})

    return router


def bluesky_block(sb: Sandbox, did: str, body: dict[str, Any], *, uri: str, cid: str) -> None:
    """Keeps an `app.bsky.graph.block` record the PDS accepted (createRecord checked it)."""
    record = body.get("record") or {}
    subject = record.get("subject")
    if not isinstance(subject, str) or not subject.startswith("did:"):
        raise errors.bluesky_error(
            400, "InvalidRequest", "Invalid app.bsky.graph.block record: subject must be a did"
        )
    if uri in _blocked(sb, "bluesky", did):
        raise errors.bluesky_error(400, "InvalidRequest", f"Record already exists at {uri}")
    _blocked(sb, "bluesky", did)[uri] = {
        "uri": uri, "cid": cid,
        "value": {"$type": BLUESKY_BLOCK, "subject": subject,
                  "createdAt": record.get("createdAt") or iso(time.time(), ms=True)},
    }


def bluesky_router() -> APIRouter:
    router = APIRouter()

    @router.get("/xrpc/com.atproto.repo.listRecords")
    async def list_records(request: Request) -> Response:
        sb = sandbox_of(request)
        q = request.query_params
        if q.get("collection") != BLUESKY_BLOCK:
            raise errors.bluesky_error(400, "InvalidRequest",
                                       "The sandbox lists app.bsky.graph.block records only")
        account = sb.state.find_account("bluesky", q.get("repo", ""))
        if account is None:
            raise errors.bluesky_error(400, "InvalidRequest", "Could not find repo")
        return json({"records": list(_blocked(sb, "bluesky", account.id).values())})

    return router
