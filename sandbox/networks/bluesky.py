"""Bluesky (atproto PDS + AppView): ``https://bsky.social`` ↔ ``{public_url}/bluesky``.

Sign-in is by app password (``createSession``); atproto's OAuth profile (PAR + DPoP) is not
modelled.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

import orjson
import regex
from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import blocks, errors
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import NetError, bearer, json, json_body
from sandbox.networks import bluesky_chat
from sandbox.networks.common import iso, media_from_bytes, slug
from sandbox.state import Account, Post, jwt

NETWORK = "bluesky"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
IMAGE_LIMIT = 2_000_000
REFRESH_TTL = 90 * 24 * 3600
POST = "app.bsky.feed.post"
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
XRPC = "/xrpc/"

router = APIRouter(tags=["bluesky"])
# Direct messages: the chat service behind the PDS (bluesky_chat.py).
router.include_router(bluesky_chat.router)
router.include_router(blocks.bluesky_router())
add_message = bluesky_chat.add_message


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    display = name or f"Sandbox Bluesky {n}"
    handle = f"{slug(display, 'user')[:12]}{n}.bsky.social"
    did = "did:plc:" + hashlib.sha256(f"{sb.settings.seed}:{handle}:{n}".encode()).hexdigest()[:24]
    password = "-".join(secrets.token_hex(2) for _ in range(4))
    return sb.state.add_account(
        Account(network=NETWORK, id=did, name=display, username=handle, created_at=time.time(),
                extra={"did": did, "password": password})
    )


def external_id(account: Account) -> str:
    return account.id


def credentials(sb: Sandbox, account: Account) -> dict[str, Any]:
    return {
        "identifier": account.username,
        "password": account.extra["password"],
        "did": account.id,
        "service": sb.base_url(NETWORK),
    }


def _tid() -> str:
    # Timestamp identifier: microseconds since epoch in sortable base32, plus a clock id.
    value = (int(time.time() * 1_000_000) << 10) | secrets.randbelow(1024)
    out = ""
    for _ in range(13):
        out = TID_CHARS[value & 31] + out
        value >>= 5
    return out


def _cid(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def _uri(did: str, rkey: str, collection: str = POST) -> str:
    return f"at://{did}/{collection}/{rkey}"


def _author(account: Account) -> dict[str, Any]:
    return {"did": account.id, "handle": account.username, "displayName": account.name,
            "avatar": None, "labels": [], "createdAt": iso(account.created_at, ms=True)}


def _session(sb: Sandbox, account: Account) -> dict[str, Any]:
    secret = sb.state.apps[NETWORK].client_secret
    now = int(time.time())
    ttl = sb.settings.token_ttl_seconds
    access = jwt(secret, {"scope": "com.atproto.appPass", "sub": account.id, "iat": now,
                          "exp": now + ttl, "aud": "did:web:bsky.social",
                          "jti": secrets.token_hex(8)})
    refresh = jwt(secret, {"scope": "com.atproto.refresh", "sub": account.id, "iat": now,
                           "exp": now + REFRESH_TTL, "aud": "did:web:bsky.social",
                           "jti": secrets.token_hex(8)})
    sb.state.issue(NETWORK, account.id, ttl=ttl, value=access)
    sb.state.issue(NETWORK, account.id, kind="refresh", ttl=REFRESH_TTL, value=refresh)
    return {"did": account.id, "handle": account.username, "email": None,
            "emailConfirmed": False, "accessJwt": access, "refreshJwt": refresh,
            "active": True, "didDoc": {"id": account.id, "service": [
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                 "serviceEndpoint": sb.base_url(NETWORK)}]}}


def _notify(sb: Sandbox, owner: Account, reason: str, post: Post, subject: str | None) -> None:
    sb.state.notify(NETWORK, owner.id, {
        "uri": post.extra["uri"], "cid": post.extra["cid"], "author_id": post.author_id,
        "author_name": post.author_name, "reason": reason, "reasonSubject": subject,
        "record": post.extra["record"], "indexedAt": iso(post.created_at, ms=True),
    })


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    owner = sb.state.accounts[NETWORK][post.account_id or post.author_id]
    fan = sb.state.fan(NETWORK, author)
    fan_did = "did:plc:" + hashlib.sha256(fan.id.encode()).hexdigest()[:24]
    root = post.extra.get("reply", {}).get("root") or {"uri": post.extra["uri"],
                                                        "cid": post.extra["cid"]}
    rkey = _tid()
    record = {"$type": POST, "text": text, "createdAt": iso(time.time(), ms=True),
              "langs": ["en"],
              "reply": {"root": root, "parent": {"uri": post.extra["uri"],
                                                 "cid": post.extra["cid"]}}}
    raw = orjson.dumps(record)
    reply = sb.state.add_post(Post(
        network=NETWORK, id=_uri(fan_did, rkey), account_id=None, text=text,
        created_at=time.time(), kind="comment", reply_to=post.id, author_id=fan_did,
        author_name=fan.name, author_username=f"{fan.username}.bsky.social",
        url=f"https://bsky.app/profile/{fan.username}.bsky.social/post/{rkey}",
        extra={"uri": _uri(fan_did, rkey), "cid": _cid(raw), "record": record,
               "reply": record["reply"]},
    ))
    sb.state.fan_ids[(NETWORK, fan_did)] = Account(
        network=NETWORK, id=fan_did, name=fan.name,
        username=f"{fan.username}.bsky.social", created_at=fan.created_at)
    post.metrics["replies"] = post.metrics.get("replies", 0.0) + 1
    _notify(sb, owner, "reply", reply, post.extra["uri"])
    return {"id": reply.id, "uri": reply.id, "cid": reply.extra["cid"], "text": text}


# xrpc plumbing -----------------------------------------------------------------------------------


def _auth(sb: Sandbox, request: Request) -> Account:
    value = bearer(request)
    if not value:
        raise errors.bluesky_error(401, "AuthMissing", "Authentication Required")
    return sb.authenticate(NETWORK, value)


@router.post(XRPC + "com.atproto.server.createSession")
async def create_session(request: Request) -> Response:
    sb = sandbox_of(request)
    body = await json_body(request) or {}
    ident = str(body.get("identifier", ""))
    account = sb.state.find_account(NETWORK, ident)
    if account is None or body.get("password") != account.extra["password"]:
        raise errors.bluesky_error(401, "AuthenticationRequired",
                                   "Invalid identifier or password")
    return json(_session(sb, account))


@router.post(XRPC + "com.atproto.server.refreshSession")
async def refresh_session(request: Request) -> Response:
    sb = sandbox_of(request)
    value = bearer(request) or ""
    tok = sb.state.tokens.get(value)
    if tok is None or tok.network != NETWORK or tok.kind != "refresh":
        raise errors.bluesky_error(400, "InvalidToken", "Token could not be verified")
    if tok.revoked:
        raise errors.bluesky_error(400, "ExpiredToken", "Token has been revoked")
    if tok.expired(time.time()):
        raise errors.bluesky_error(400, "ExpiredToken", "Token has expired")
    tok.revoked = True
    session = _session(sb, sb.state.accounts[NETWORK][tok.account_id])
    session.pop("didDoc", None)
    return json(session)


@router.get(XRPC + "com.atproto.server.getSession")
async def get_session(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    return json({"did": account.id, "handle": account.username, "email": None,
                 "emailConfirmed": False, "active": True})


@router.post(XRPC + "com.atproto.server.deleteSession")
async def delete_session(request: Request) -> Response:
    sb = sandbox_of(request)
    tok = sb.state.tokens.get(bearer(request) or "")
    if tok is not None and tok.network == NETWORK:
        tok.revoked = True
    return Response(status_code=200)


@router.get(XRPC + "com.atproto.identity.resolveHandle")
async def resolve_handle(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.state.find_account(NETWORK, request.query_params.get("handle", ""))
    if account is None:
        raise errors.bluesky_error(400, "InvalidRequest", "Unable to resolve handle")
    return json({"did": account.id})


@router.post(XRPC + "com.atproto.repo.uploadBlob")
async def upload_blob(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    data = await request.body()
    cid = _cid(data)
    item = media_from_bytes(cid, NETWORK, account.id, data)
    if item is None:
        raise errors.bluesky_error(400, "InvalidMimeType", "Unsupported blob type")
    if item.kind == "video" and item.size > 300 * 1024 * 1024:
        raise errors.bluesky_error(400, "BlobTooLarge", "Blob too large")
    item.status = "succeeded"
    # A blob lives in the uploader's repository: the same bytes uploaded by two accounts are
    # two blobs with one CID, and neither account's post can lose the other's.
    sb.state.media[NETWORK][_blob_key(account.id, cid)] = item
    return json({"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": item.mime,
                          "size": item.size}})


def _collect_blobs(sb: Sandbox, account: Account, embed: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if not isinstance(embed, dict):
        return found
    etype = embed.get("$type", "")
    if etype == "app.bsky.embed.images":
        images = embed.get("images") or []
        if len(images) > 4:
            raise errors.bluesky_error(400, "InvalidRequest",
                                       "Invalid app.bsky.feed.post record: embed/images "
                                       "must not have more than 4 elements")
        for img in images:
            ref = ((img or {}).get("image") or {}).get("ref") or {}
            found.append(_blob(sb, account, ref.get("$link"), img.get("alt", "")))
    elif etype == "app.bsky.embed.video":
        ref = (embed.get("video") or {}).get("ref") or {}
        found.append(_blob(sb, account, ref.get("$link"), embed.get("alt", "")))
    elif etype == "app.bsky.embed.external":
        external = embed.get("external")
        if not isinstance(external, dict) or not all(
            isinstance(external.get(k), str) for k in ("uri", "title", "description")
        ) or not str(external.get("uri")).startswith(("http://", "https://")):
            raise errors.bluesky_error(400, "InvalidRequest",
                                       "Invalid app.bsky.feed.post record: embed/external "
                                       'must have the properties "uri", "title" and '
                                       '"description"')
        if external.get("thumb") is not None:
            ref = (external.get("thumb") or {}).get("ref") or {}
            found.append(_blob(sb, account, ref.get("$link"), ""))
    elif etype == "app.bsky.embed.recordWithMedia":
        found.extend(_collect_blobs(sb, account, embed.get("media")))
    return found


def _blob_key(account_id: str, cid: Any) -> str:
    return f"{account_id}/{cid}"


def _blob(sb: Sandbox, account: Account, cid: Any, alt: str) -> dict[str, Any]:
    item = sb.state.media[NETWORK].get(_blob_key(account.id, cid))
    if item is None or item.account_id != account.id:
        raise errors.bluesky_error(400, "InvalidRequest", f"Could not find blob: {cid}")
    if item.kind == "image" and item.size > IMAGE_LIMIT:
        raise errors.bluesky_error(400, "InvalidRequest", "Blob too large for an image")
    return {"id": item.id, "kind": item.kind, "mime": item.mime, "digest": item.digest,
            "alt": alt}


@router.post(XRPC + "com.atproto.repo.createRecord")
async def create_record(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    body = await json_body(request)
    if not body:
        raise errors.bluesky_error(400, "InvalidRequest", "Input must be an object")
    repo = body.get("repo")
    if repo not in (account.id, account.username):
        raise errors.bluesky_error(400, "InvalidRequest", "Invalid repo")
    collection = body.get("collection")
    record = body.get("record")
    if collection == blocks.BLUESKY_BLOCK:
        return _create_block(sb, account, body)
    if collection != POST or not isinstance(record, dict):
        raise errors.bluesky_error(400, "InvalidRequest",
                                   "The sandbox stores app.bsky.feed.post records only")
    text = record.get("text", "")
    if not isinstance(text, str) or not record.get("createdAt"):
        raise errors.bluesky_error(400, "InvalidRequest",
                                   "Invalid app.bsky.feed.post record: Record must have the "
                                   'properties "text" and "createdAt"')
    if len(regex.findall(r"\X", text)) > MAX_GRAPHEMES or len(text.encode()) > MAX_BYTES:
        raise errors.bluesky_error(400, "InvalidRequest",
                                   "Invalid app.bsky.feed.post record: Record/text must not "
                                   f"be longer than {MAX_GRAPHEMES} graphemes")
    _check_facets(record.get("facets"), text)
    rkey = str(body.get("rkey") or _tid())
    uri = _uri(account.id, rkey)
    if uri in sb.state.posts[NETWORK]:
        # A caller-chosen rkey is what makes a retry safe: the second write is refused.
        raise errors.bluesky_error(400, "InvalidRequest", f"Record already exists at {uri}")
    media = _collect_blobs(sb, account, record.get("embed"))
    reply = record.get("reply")
    parent = None
    if isinstance(reply, dict):
        parent_uri = (reply.get("parent") or {}).get("uri")
        parent = sb.state.posts[NETWORK].get(str(parent_uri))
        if parent is None or not (reply.get("root") or {}).get("uri"):
            raise errors.bluesky_error(400, "InvalidRequest", "Invalid reply reference")
        parent.metrics["replies"] = parent.metrics.get("replies", 0.0) + 1
    record = {"$type": POST, **record}
    cid = _cid(orjson.dumps(record))
    sb.state.add_post(Post(
        network=NETWORK, id=uri, account_id=account.id, text=text, created_at=time.time(),
        media=media, url=f"https://bsky.app/profile/{account.username}/post/{rkey}",
        reply_to=parent.id if parent else None, author_id=account.id,
        author_name=account.name, author_username=account.username,
        extra={"uri": uri, "cid": cid, "record": record, "rkey": rkey,
               "reply": reply if isinstance(reply, dict) else {}},
    ))
    return json({"uri": uri, "cid": cid, "commit": {"cid": _cid(uri.encode()), "rev": _tid()},
                 "validationStatus": "valid"})


def _create_block(sb: Sandbox, account: Account, body: dict[str, Any]) -> Response:
    rkey = str(body.get("rkey") or _tid())
    uri = _uri(account.id, rkey, blocks.BLUESKY_BLOCK)
    cid = _cid(orjson.dumps(body.get("record")))
    blocks.bluesky_block(sb, account.id, body, uri=uri, cid=cid)
    return json({"uri": uri, "cid": cid, "commit": {"cid": _cid(uri.encode()), "rev": _tid()},
                 "validationStatus": "valid"})


FACET_FEATURES = {
    "app.bsky.richtext.facet#link": "uri",
    "app.bsky.richtext.facet#mention": "did",
    "app.bsky.richtext.facet#tag": "tag",
}


def _check_facets(facets: Any, text: str) -> None:
    """The lexicon's rules for `facets`: byte ranges inside the UTF-8 text, each with known
    features (a mention names a DID, a tag is at most 640 bytes)."""
    if facets is None:
        return
    size = len(text.encode())

    def invalid(detail: str) -> NetError:
        return errors.bluesky_error(
            400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {detail}"
        )

    if not isinstance(facets, list):
        raise invalid("Record/facets must be an array")
    for n, facet in enumerate(facets):
        index = facet.get("index") if isinstance(facet, dict) else None
        start = index.get("byteStart") if isinstance(index, dict) else None
        end = index.get("byteEnd") if isinstance(index, dict) else None
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= size:
            raise invalid(f"Record/facets/{n}/index must be a byte range inside the text")
        features = facet.get("features")
        if not isinstance(features, list) or not features:
            raise invalid(f"Record/facets/{n}/features must be a non-empty array")
        for feature in features:
            kind = feature.get("$type") if isinstance(feature, dict) else None
            field = FACET_FEATURES.get(str(kind))
            value = feature.get(field) if field and isinstance(feature, dict) else None
            if field is None or not isinstance(value, str) or not value:
                raise invalid(f"Record/facets/{n}/features has an invalid feature")
            if field == "did" and not value.startswith("did:"):
                raise invalid(f"Record/facets/{n}/features/did must be a valid did")
            if field == "tag" and len(value.encode()) > 640:
                raise invalid(f"Record/facets/{n}/features/tag must not be longer than 640")


@router.post(XRPC + "com.atproto.repo.deleteRecord")
async def delete_record(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    body = await json_body(request) or {}
    uri = _uri(account.id, str(body.get("rkey", "")), str(body.get("collection", POST)))
    post = sb.state.posts[NETWORK].get(uri)
    if post is not None:
        post.deleted = True
    return json({"commit": {"cid": _cid(uri.encode()), "rev": _tid()}})


@router.get(XRPC + "com.atproto.repo.getRecord")
async def get_record(request: Request) -> Response:
    sb = sandbox_of(request)
    q = request.query_params
    account = sb.state.find_account(NETWORK, q.get("repo", ""))
    did = account.id if account else q.get("repo", "")
    post = sb.state.posts[NETWORK].get(_uri(did, q.get("rkey", ""), q.get("collection", POST)))
    if post is None or post.deleted:
        raise errors.bluesky_error(400, "RecordNotFound",
                                   f"Could not locate record: {q.get('rkey')}")
    return json({"uri": post.id, "cid": post.extra["cid"], "value": post.extra["record"]})


def _post_view(sb: Sandbox, post: Post) -> dict[str, Any]:
    if post.account_id is not None:
        author = _author(sb.state.accounts[NETWORK][post.account_id])
    else:
        author = {"did": post.author_id, "handle": post.author_username,
                  "displayName": post.author_name, "labels": []}
    return {
        "uri": post.id, "cid": post.extra["cid"], "author": author,
        "record": post.extra["record"], "replyCount": post.count("replies"),
        "repostCount": post.count("shares"), "likeCount": post.count("likes"),
        "quoteCount": post.count("quotes"), "indexedAt": iso(post.created_at, ms=True),
        "labels": [],
    }


@router.get(XRPC + "app.bsky.feed.getPosts")
async def get_posts(request: Request) -> Response:
    sb = sandbox_of(request)
    _auth(sb, request)
    uris = request.query_params.getlist("uris")
    if len(uris) > 25:
        raise errors.bluesky_error(400, "InvalidRequest", "uris must not have more than 25 "
                                                          "elements")
    posts = sb.state.posts[NETWORK]
    return json({"posts": [_post_view(sb, posts[u]) for u in uris
                           if u in posts and not posts[u].deleted]})


@router.get(XRPC + "app.bsky.feed.getAuthorFeed")
async def author_feed(request: Request) -> Response:
    sb = sandbox_of(request)
    _auth(sb, request)
    account = sb.state.find_account(NETWORK, request.query_params.get("actor", ""))
    if account is None:
        raise errors.bluesky_error(400, "InvalidRequest", "Profile not found")
    posts = [p for p in reversed(sb.state.account_posts(NETWORK, account.id)) if not p.deleted]
    page, cursor = _cursor_page(request, posts, 50, 100)
    out: dict[str, Any] = {"feed": [{"post": _post_view(sb, p)} for p in page]}
    if cursor:
        out["cursor"] = cursor
    return json(out)


@router.get(XRPC + "app.bsky.actor.getProfile")
async def get_profile(request: Request) -> Response:
    sb = sandbox_of(request)
    _auth(sb, request)
    account = sb.state.find_account(NETWORK, request.query_params.get("actor", ""))
    if account is None:
        raise errors.bluesky_error(400, "InvalidRequest", "Profile not found")
    return json({**_author(account), "followersCount": int(account.extra.get("followers", 0)),
                 "followsCount": 0,
                 "postsCount": len(sb.state.by_account.get((NETWORK, account.id), ()))})


def _cursor_page(request: Request, items: list[Any], default: int,
                 maximum: int) -> tuple[list[Any], str | None]:
    q = request.query_params
    try:
        limit = min(maximum, max(1, int(q.get("limit", default))))
    except ValueError:
        limit = default
    try:
        start = int(q.get("cursor") or 0)
    except ValueError:
        start = 0
    page = items[start : start + limit]
    return page, str(start + limit) if start + limit < len(items) else None


@router.get(XRPC + "app.bsky.notification.listNotifications")
async def list_notifications(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    reasons = set(request.query_params.getlist("reasons"))
    items = [n for n in reversed(sb.state.notifications.get((NETWORK, account.id), []))
             if not reasons or n["reason"] in reasons]
    # The cursor is the position in the account's notification sequence, so items that arrive
    # while a client pages do not shift the pages it has yet to read.
    if request.query_params.get("cursor", "").isdigit():
        before = int(request.query_params["cursor"])
        items = [n for n in items if n["seq"] < before]
    try:
        limit = min(100, max(1, int(request.query_params.get("limit", 50))))
    except ValueError:
        limit = 50
    page = items[:limit]
    cursor = str(page[-1]["seq"]) if len(items) > limit else None
    seen_at = sb.state.kv[NETWORK].get(("seen", account.id), "")
    out: dict[str, Any] = {"notifications": [
        {"uri": n["uri"], "cid": n["cid"],
         "author": {"did": n["author_id"],
                    "handle": sb.state.fan_ids[(NETWORK, n["author_id"])].username,
                    "displayName": n["author_name"], "labels": []},
         "reason": n["reason"], "reasonSubject": n["reasonSubject"], "record": n["record"],
         "isRead": n["indexedAt"] <= seen_at, "indexedAt": n["indexedAt"], "labels": []}
        for n in page
    ], "seenAt": seen_at or None}
    if cursor:
        out["cursor"] = cursor
    return json(out)


@router.post(XRPC + "app.bsky.notification.updateSeen")
async def update_seen(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    body = await json_body(request) or {}
    sb.state.kv[NETWORK][("seen", account.id)] = str(body.get("seenAt", ""))
    return Response(status_code=200)
