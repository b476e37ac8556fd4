"""Bluesky direct messages: the chat service (``chat.bsky.convo.*``), reached through the PDS.

The PDS does not answer these methods itself: a client names the chat service in the
``atproto-proxy`` header and the PDS forwards the call with the user's session. Without the
header the PDS answers 501 MethodNotImplemented, as bsky.social does. Conversations list
newest first (by ``rev``, a sortable TID that moves with every message), messages newest first.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import regex
from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import errors
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import bearer, json, json_body
from sandbox.networks.common import iso
from sandbox.state import Account

NETWORK = "bluesky"
XRPC = "/xrpc/"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
MAX_GRAPHEMES = 1000
MAX_BYTES = 10000
MESSAGE = "chat.bsky.convo.defs#messageView"

router = APIRouter(tags=["bluesky chat"])


def _convos(sb: Sandbox, did: str) -> dict[str, dict[str, Any]]:
    """The account's conversations by id (shared with the other member: the same dict)."""
    found: dict[str, dict[str, Any]] = sb.state.kv[NETWORK].setdefault(("convos", did), {})
    return found


def _member(sb: Sandbox, did: str) -> dict[str, Any]:
    account = sb.state.accounts[NETWORK].get(did) or sb.state.fan_ids.get((NETWORK, did))
    if account is None:
        return {"did": did, "handle": "handle.invalid", "labels": []}
    return {"did": did, "handle": account.username, "displayName": account.name, "labels": []}


def _convo_with(sb: Sandbox, dids: list[str]) -> dict[str, Any]:
    """The one conversation of exactly these members, started if there is none yet."""
    members = sorted(set(dids))
    key = hashlib.sha256("|".join(members).encode()).hexdigest()[:16]
    convo = _convos(sb, members[0]).get(key)
    if convo is None:
        convo = {"id": key, "rev": _rev(sb), "members": members, "messages": []}
        for did in members:
            _convos(sb, did)[key] = convo
    return convo


def _rev(sb: Sandbox) -> str:
    # Sortable and strictly increasing within the sandbox: a TID-like counter.
    return f"{sb.state.seq():013d}"


def _send(sb: Sandbox, convo: dict[str, Any], sender: str, text: str) -> dict[str, Any]:
    rev = _rev(sb)
    message = {
        "$type": MESSAGE,
        "id": f"msg{rev}",
        "rev": rev,
        "text": text,
        "sender": {"did": sender},
        "sentAt": iso(time.time(), ms=True),
    }
    convo["messages"].append(message)
    convo["rev"] = rev
    return message


def _view(sb: Sandbox, convo: dict[str, Any], me: str) -> dict[str, Any]:
    last = convo["messages"][-1] if convo["messages"] else None
    unread = sum(1 for m in convo["messages"] if m["sender"]["did"] != me)
    return {
        "id": convo["id"],
        "rev": convo["rev"],
        "members": [_member(sb, did) for did in convo["members"]],
        "lastMessage": last,
        "muted": False,
        "status": "accepted",
        "unreadCount": unread,
    }


def add_message(sb: Sandbox, account: Account, text: str, author: str) -> dict[str, Any]:
    """Someone in the audience writes to the account (the sandbox's control route)."""
    fan = sb.state.fan(NETWORK, author)
    fan_did = "did:plc:" + hashlib.sha256(fan.id.encode()).hexdigest()[:24]
    sb.state.fan_ids[(NETWORK, fan_did)] = Account(
        network=NETWORK,
        id=fan_did,
        name=fan.name,
        username=f"{fan.username}.bsky.social",
        created_at=fan.created_at,
    )
    convo = _convo_with(sb, [account.id, fan_did])
    message = _send(sb, convo, fan_did, text)
    return {"id": message["id"], "convo_id": convo["id"], "sender": fan_did, "text": text}


def _chat_auth(sb: Sandbox, request: Request) -> Account:
    # The PDS checks the session first, as for any call, then forwards.
    value = bearer(request)
    if not value:
        raise errors.bluesky_error(401, "AuthMissing", "Authentication Required")
    account = sb.authenticate(NETWORK, value)
    if request.headers.get("atproto-proxy") != CHAT_PROXY:
        raise errors.bluesky_error(501, "MethodNotImplemented", "Method Not Implemented")
    return account


def _limit(request: Request, default: int = 50, maximum: int = 100) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise errors.bluesky_error(400, "InvalidRequest", f"limit must be 1 to {maximum}")
    return int(raw)


def _page(items: list[dict[str, Any]], request: Request) -> tuple[list[Any], str | None]:
    """Newest first; the cursor is the `rev` of the last item given."""
    limit = _limit(request)
    before = request.query_params.get("cursor")
    if before:
        items = [i for i in items if i["rev"] < before]
    page = items[:limit]
    return page, page[-1]["rev"] if len(items) > limit else None


@router.get(XRPC + "chat.bsky.convo.listConvos")
async def list_convos(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _chat_auth(sb, request)
    convos = sorted(_convos(sb, account.id).values(), key=lambda c: c["rev"], reverse=True)
    page, cursor = _page(convos, request)
    out: dict[str, Any] = {"convos": [_view(sb, c, account.id) for c in page]}
    if cursor:
        out["cursor"] = cursor
    return json(out)


def _convo(sb: Sandbox, account: Account, convo_id: str) -> dict[str, Any]:
    convo = _convos(sb, account.id).get(convo_id)
    if convo is None:
        raise errors.bluesky_error(400, "InvalidRequest", "Convo not found")
    return convo


@router.get(XRPC + "chat.bsky.convo.getMessages")
async def get_messages(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _chat_auth(sb, request)
    convo = _convo(sb, account, request.query_params.get("convoId", ""))
    page, cursor = _page(list(reversed(convo["messages"])), request)
    out: dict[str, Any] = {"messages": page}
    if cursor:
        out["cursor"] = cursor
    return json(out)


@router.get(XRPC + "chat.bsky.convo.getConvoForMembers")
async def convo_for_members(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _chat_auth(sb, request)
    members = request.query_params.getlist("members")
    if not 1 <= len(members) <= 10:
        raise errors.bluesky_error(400, "InvalidRequest", "members must name 1 to 10 accounts")
    for did in members:
        if did != account.id and (NETWORK, did) not in sb.state.fan_ids:
            raise errors.bluesky_error(400, "InvalidRequest", f"Could not find account {did}")
    convo = _convo_with(sb, [account.id, *members])
    return json({"convo": _view(sb, convo, account.id)})


@router.post(XRPC + "chat.bsky.convo.sendMessage")
async def send_message(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _chat_auth(sb, request)
    body = await json_body(request) or {}
    convo = _convo(sb, account, str(body.get("convoId", "")))
    text = (body.get("message") or {}).get("text")
    if not isinstance(text, str) or not text:
        raise errors.bluesky_error(400, "InvalidRequest", "message.text is required")
    if len(regex.findall(r"\X", text)) > MAX_GRAPHEMES or len(text.encode()) > MAX_BYTES:
        raise errors.bluesky_error(
            400, "InvalidRequest", f"message.text must not be longer than {MAX_GRAPHEMES} graphemes"
        )
    return json(_send(sb, convo, account.id, text))
