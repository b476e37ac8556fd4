"""Mastodon: an instance at ``https://mastodon.example`` ↔ ``{public_url}/mastodon``."""

from __future__ import annotations

import html
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import blocks, errors, oauth, polls
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import Part, bearer, form_list, json, params
from sandbox.networks.common import URL_RE, iso, media_from_bytes, media_ref, slug
from sandbox.state import Account, Post

NETWORK = "mastodon"
MAX_CHARS = 500
URL_CHARS = 23
IDEMPOTENCY_TTL = 3600
POLL_MAX_OPTIONS = 4
POLL_OPTION_CHARS = 50
POLL_MIN_SECONDS = 300
POLL_MAX_SECONDS = 2_629_746
DOMAIN = "mastodon.example"
REMOTE_MENTION = re.compile(r"@([A-Za-z0-9_]+)@[A-Za-z0-9.-]+")

router = APIRouter(tags=["mastodon"])
router.include_router(oauth.authorize_router(NETWORK, require_pkce=False))
router.include_router(blocks.mastodon_router())


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    display = name or f"Sandbox Mastodon {n}"
    return sb.state.add_account(
        Account(network=NETWORK, id=sb.state.snowflake(), name=display,
                username=f"{slug(display, 'user')[:12]}{n}", created_at=time.time())
    )


def external_id(account: Account) -> str:
    return account.id


def credentials(sb: Sandbox, account: Account) -> dict[str, Any]:
    tok = sb.state.issue(NETWORK, account.id, ttl=None, scope="read write push")
    return {"access_token": tok.value, "instance_url": sb.base_url(NETWORK)}


def _account_entity(sb: Sandbox, account: Account, *, fan: bool = False) -> dict[str, Any]:
    acct = f"{account.username}@fans.example" if fan else account.username
    host = "fans.example" if fan else DOMAIN
    return {
        "id": account.id,
        "username": account.username,
        "acct": acct,
        "display_name": account.name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": iso(account.created_at, ms=True),
        "note": "",
        "url": f"https://{host}/@{account.username}",
        "avatar": f"https://{DOMAIN}/avatars/original/missing.png",
        "header": f"https://{DOMAIN}/headers/original/missing.png",
        "followers_count": int(account.extra.get("followers", 0)),
        "following_count": 0,
        "statuses_count": 0 if fan else len(sb.state.by_account.get((NETWORK, account.id), ())),
        "emojis": [],
        "fields": [],
    }


def _media_entity(ref: dict[str, Any]) -> dict[str, Any]:
    kind = {"gif": "gifv"}.get(ref["kind"], ref["kind"])
    return {
        "id": ref["id"],
        "type": kind,
        "url": f"https://{DOMAIN}/media/{ref['id']}",
        "preview_url": f"https://{DOMAIN}/media/{ref['id']}/small",
        "remote_url": None,
        "description": ref.get("alt") or None,
        "blurhash": None,
        "meta": {},
    }


def _status(sb: Sandbox, post: Post) -> dict[str, Any]:
    if post.account_id is not None:
        author = sb.state.accounts[NETWORK][post.account_id]
        account = _account_entity(sb, author)
    else:
        fan = sb.state.fan(NETWORK, post.author_name)
        account = _account_entity(sb, fan, fan=True)
    mentions = post.extra.get("mentions", [])
    return {
        "id": post.id,
        "created_at": iso(post.created_at, ms=True),
        "in_reply_to_id": post.reply_to,
        "in_reply_to_account_id": post.extra.get("in_reply_to_account_id"),
        "sensitive": bool(post.extra.get("spoiler_text")),
        "spoiler_text": post.extra.get("spoiler_text", ""),
        "visibility": post.visibility,
        "language": "en",
        "uri": f"https://{DOMAIN}/users/{account['username']}/statuses/{post.id}",
        "url": post.url,
        "replies_count": post.count("replies"),
        "reblogs_count": post.count("shares"),
        "favourites_count": post.count("likes"),
        "edited_at": iso(post.edited_at, ms=True) if post.edited_at is not None else None,
        "content": post.extra.get("html") or f"<p>{html.escape(post.text)}</p>",
        "reblog": None,
        "application": None,
        "account": account,
        "media_attachments": [_media_entity(m) for m in post.media],
        "mentions": mentions,
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": _poll_entity(post),
    }


def _poll(raw: Any, *, with_media: bool) -> dict[str, Any] | None:
    """The instance's `configuration.polls`: 2-4 options of at most 50 characters, open 300 s
    to a month, and no poll on a status with media."""
    if raw is None:
        return None
    if with_media:
        raise errors.mastodon_error(422, "Validation failed: Cannot attach a poll to a status "
                                         "with media")
    if not isinstance(raw, dict):
        raise errors.mastodon_error(422, "Validation failed: Poll is invalid")
    options = raw.get("options")
    if not isinstance(options, list) or not 2 <= len(options) <= POLL_MAX_OPTIONS:
        raise errors.mastodon_error(422, "Validation failed: Poll options must have between "
                                         f"2 and {POLL_MAX_OPTIONS} items")
    if any(not isinstance(o, str) or not o.strip() or len(o) > POLL_OPTION_CHARS
           for o in options):
        raise errors.mastodon_error(422, "Validation failed: Poll options is too long "
                                         f"(maximum is {POLL_OPTION_CHARS} characters)")
    if len(set(options)) < len(options):
        raise errors.mastodon_error(422, "Validation failed: Poll options must be unique")
    try:
        seconds = int(raw.get("expires_in"))
    except (TypeError, ValueError):
        raise errors.mastodon_error(422, "Validation failed: Poll expires in is invalid") from None
    if not POLL_MIN_SECONDS <= seconds <= POLL_MAX_SECONDS:
        raise errors.mastodon_error(422, "Validation failed: Poll expiration is out of range")
    multiple = raw.get("multiple") in (True, "true", "1")
    return polls.new_poll(options, minutes=seconds // 60, multiple=multiple)


def _poll_entity(post: Post) -> dict[str, Any] | None:
    poll = post.extra.get("poll")
    if poll is None:
        return None
    votes = polls.total(poll)
    return {
        "id": post.extra["poll_id"],
        "expires_at": poll["expires_at"],
        "expired": not polls.is_open(poll),
        "multiple": poll["multiple"],
        "votes_count": votes,
        "voters_count": votes,
        "options": [{"title": o["label"], "votes_count": o["votes"]} for o in poll["options"]],
        "emojis": [],
        "voted": False,
        "own_votes": [],
    }


def _text_length(text: str) -> int:
    text = REMOTE_MENTION.sub(lambda m: "@" + m.group(1), text)
    urls = URL_RE.findall(text)
    return len(URL_RE.sub("", text)) + URL_CHARS * len(urls)


def _audience_status(
    sb: Sandbox, owner: Account, text: str, author: str, *, reply_to: Post | None,
    visibility: str,
) -> tuple[Post, Account]:
    fan = sb.state.fan(NETWORK, author)
    mention = {"id": owner.id, "username": owner.username, "acct": owner.username,
               "url": f"https://{DOMAIN}/@{owner.username}"}
    body = (
        f'<p><span class="h-card"><a href="{mention["url"]}" class="u-url mention">'
        f"@<span>{owner.username}</span></a></span> {html.escape(text)}</p>"
    )
    status = sb.state.add_post(
        Post(
            network=NETWORK, id=sb.state.snowflake(), account_id=None,
            text=f"@{owner.username} {text}", created_at=time.time(), kind="comment",
            reply_to=reply_to.id if reply_to else None, author_id=fan.id,
            author_name=fan.name, author_username=fan.username, visibility=visibility,
            url=f"https://fans.example/@{fan.username}/",
            extra={"html": body, "mentions": [mention],
                   "in_reply_to_account_id": owner.id if reply_to else None},
        )
    )
    status.url += status.id
    return status, fan


def _notify(sb: Sandbox, owner: Account, status: Post, fan: Account) -> dict[str, Any]:
    item = {
        "id": sb.state.snowflake(),
        "type": "mention",
        "created_at": iso(status.created_at, ms=True),
        "account_id": fan.id,
        "status_id": status.id,
    }
    sb.state.notify(NETWORK, owner.id, item)
    return item


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    owner = sb.state.accounts[NETWORK][post.account_id or post.author_id]
    status, fan = _audience_status(sb, owner, text, author, reply_to=post, visibility="public")
    post.metrics["replies"] = post.metrics.get("replies", 0.0) + 1
    note = _notify(sb, owner, status, fan)
    return {"id": status.id, "text": status.text, "notification_id": note["id"]}


def add_message(sb: Sandbox, account: Account, text: str, author: str) -> dict[str, Any]:
    status, fan = _audience_status(sb, account, text, author, reply_to=None,
                                   visibility="direct")
    note = _notify(sb, account, status, fan)
    return {"id": status.id, "text": status.text, "notification_id": note["id"]}


# OAuth and identity ------------------------------------------------------------------------------


@router.post("/api/v1/apps")
async def register_app(request: Request) -> Response:
    sb = sandbox_of(request)
    p = await params(request)
    app = sb.state.apps[NETWORK]
    return json({
        "id": "1", "name": p.get("client_name", "app"), "website": p.get("website"),
        "redirect_uri": p.get("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
        "client_id": app.client_id, "client_secret": app.client_secret,
        "vapid_key": "",
    })


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    form = await params(request)
    client_id, secret = oauth.client_credentials(request, form)
    try:
        oauth.check_client(sb, NETWORK, client_id, secret)
        if form.get("grant_type") == "authorization_code":
            account, scope = oauth.redeem_code(
                sb, NETWORK, code=str(form.get("code", "")), client_id=client_id,
                redirect_uri=form.get("redirect_uri"), verifier=form.get("code_verifier"),
            )
            tok = sb.state.issue(NETWORK, account.id, ttl=None, scope=scope or "read")
            return json({"access_token": tok.value, "token_type": "Bearer",
                         "scope": tok.scope, "created_at": int(time.time())})
    except oauth.OAuthFailure as exc:
        return json({"error": exc.error, "error_description": exc.description},
                    401 if exc.error == "invalid_client" else 400)
    return json({"error": "unsupported_grant_type",
                 "error_description": "The authorization grant type is not supported."}, 400)


@router.post("/oauth/revoke")
async def revoke(request: Request) -> Response:
    sb = sandbox_of(request)
    tok = sb.state.tokens.get(str((await params(request)).get("token", "")))
    if tok is not None and tok.network == NETWORK:
        tok.revoked = True
    return json({})


@router.get("/api/v1/accounts/verify_credentials")
async def verify_credentials(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    entity = _account_entity(sb, account)
    entity["source"] = {"privacy": "public", "sensitive": False, "language": "en", "note": "",
                        "fields": []}
    return json(entity)


def _instance_v1(sb: Sandbox) -> dict[str, Any]:
    return {
        "uri": DOMAIN,
        "title": "Herald sandbox",
        "short_description": "A fake Mastodon instance.",
        "description": "",
        "email": "admin@mastodon.example",
        "version": "4.3.0",
        "urls": {"streaming_api": "wss://mastodon.example"},
        "languages": ["en"],
        "registrations": False,
        "configuration": {
            "statuses": {"max_characters": MAX_CHARS, "max_media_attachments": 4,
                         "characters_reserved_per_url": URL_CHARS},
            "media_attachments": {
                "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp",
                                         "video/mp4", "video/quicktime"],
                "image_size_limit": 16777216, "video_size_limit": 103809024,
            },
            "polls": {"max_options": POLL_MAX_OPTIONS,
                      "max_characters_per_option": POLL_OPTION_CHARS,
                      "min_expiration": POLL_MIN_SECONDS, "max_expiration": POLL_MAX_SECONDS},
        },
    }


@router.get("/api/v1/instance")
async def instance(request: Request) -> Response:
    return json(_instance_v1(sandbox_of(request)))


@router.get("/api/v2/instance")
async def instance_v2(request: Request) -> Response:
    v1 = _instance_v1(sandbox_of(request))
    return json({"domain": DOMAIN, "title": v1["title"], "version": v1["version"],
                 "configuration": {**v1["configuration"],
                                   "urls": {"streaming": "wss://mastodon.example"}}})


# statuses ----------------------------------------------------------------------------------------


async def _status_params(request: Request) -> tuple[dict[str, Any], list[str]]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json") or ctype.startswith("multipart/"):
        p = await params(request)
        ids = p.get("media_ids") or p.get("media_ids[]") or []
        return p, [str(i) for i in (ids if isinstance(ids, list) else [ids])]
    pairs = await form_list(request)
    p = dict(pairs)
    return p, [v for k, v in pairs if k in ("media_ids[]", "media_ids")]


def _attachments(sb: Sandbox, account: Account, media_ids: list[str]) -> list[dict[str, Any]]:
    media = []
    for mid in media_ids:
        item = sb.state.media[NETWORK].get(mid)
        if item is None or item.account_id != account.id:
            raise errors.mastodon_error(422, "Validation failed: Media attachments is invalid")
        if item.status != "succeeded":
            raise errors.mastodon_error(422, "Cannot attach files that have not finished "
                                             "processing. Try again in a moment!")
        media.append(media_ref(item))
    return media


@router.post("/api/v1/statuses")
async def create_status(request: Request) -> Response:
    sb = sandbox_of(request)
    tok = sb.token(NETWORK, bearer(request))
    account = sb.state.accounts[NETWORK][tok.account_id]
    key = request.headers.get("idempotency-key")
    keys: dict[tuple[str, str], tuple[float, str]] = sb.state.kv[NETWORK].setdefault(
        "idempotency", {}
    )
    now = time.time()
    if key:
        seen = keys.get((account.id, key))
        if seen is not None and now - seen[0] < IDEMPOTENCY_TTL:
            earlier = sb.state.posts[NETWORK].get(seen[1])
            if earlier is not None:
                return json(_status(sb, earlier))
    p, media_ids = await _status_params(request)
    text = str(p.get("status") or "")
    spoiler = str(p.get("spoiler_text") or "")
    visibility = str(p.get("visibility") or "public")
    if visibility not in ("public", "unlisted", "private", "direct"):
        raise errors.mastodon_error(422, "Validation failed: Visibility is not included in "
                                         "the list")
    if not text.strip() and not media_ids:
        raise errors.mastodon_error(422, "Validation failed: Text can't be blank")
    if _text_length(text) + len(spoiler) > MAX_CHARS:
        raise errors.mastodon_error(
            422, f"Validation failed: Text character limit of {MAX_CHARS} exceeded"
        )
    if len(media_ids) > 4:
        raise errors.mastodon_error(422, "Validation failed: Cannot attach more than 4 files")
    poll = _poll(p.get("poll"), with_media=bool(media_ids))
    media = _attachments(sb, account, media_ids)
    parent = None
    reply_to = p.get("in_reply_to_id")
    if reply_to:
        parent = sb.state.posts[NETWORK].get(str(reply_to))
        if parent is None:
            raise errors.mastodon_error(404, "Record not found")
        parent.metrics["replies"] = parent.metrics.get("replies", 0.0) + 1
    status_id = sb.state.snowflake()
    post = sb.state.add_post(
        Post(
            network=NETWORK, id=status_id, account_id=account.id, text=text,
            created_at=now, media=media,
            url=f"https://{DOMAIN}/@{account.username}/{status_id}",
            reply_to=parent.id if parent else None, author_id=account.id,
            author_name=account.name, author_username=account.username,
            visibility=visibility,
            extra={"spoiler_text": spoiler,
                   "in_reply_to_account_id": (parent.account_id or parent.author_id)
                   if parent else None,
                   **({"poll": poll, "poll_id": sb.state.snowflake()} if poll else {})},
        )
    )
    if key:
        keys[(account.id, key)] = (now, status_id)
    return json(_status(sb, post))


@router.get("/api/v1/statuses/{status_id}")
async def get_status(status_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    post = sb.state.posts[NETWORK].get(status_id)
    if post is None or post.deleted:
        raise errors.mastodon_error(404, "Record not found")
    return json(_status(sb, post))


@router.put("/api/v1/statuses/{status_id}")
async def edit_status(status_id: str, request: Request) -> Response:
    """An edit replaces the status: attachments, content warning and poll not sent again are
    dropped; a poll whose options change loses its votes."""
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    post = sb.state.posts[NETWORK].get(status_id)
    if post is None or post.deleted or post.account_id != account.id:
        raise errors.mastodon_error(404, "Record not found")
    p, media_ids = await _status_params(request)
    text = str(p.get("status") or "")
    spoiler = str(p.get("spoiler_text") or "")
    if not text.strip() and not media_ids:
        raise errors.mastodon_error(422, "Validation failed: Text can't be blank")
    if _text_length(text) + len(spoiler) > MAX_CHARS:
        raise errors.mastodon_error(
            422, f"Validation failed: Text character limit of {MAX_CHARS} exceeded"
        )
    if len(media_ids) > 4:
        raise errors.mastodon_error(422, "Validation failed: Cannot attach more than 4 files")
    poll = _poll(p.get("poll"), with_media=bool(media_ids))
    post.media = _attachments(sb, account, media_ids)
    before = post.extra.pop("poll", None)
    if poll is not None:
        labels = [o["label"] for o in poll["options"]]
        same = before is not None and [o["label"] for o in before["options"]] == labels
        post.extra["poll"] = before if same else poll
        post.extra.setdefault("poll_id", sb.state.snowflake())
    post.extra["spoiler_text"] = spoiler
    post.edit(text)
    return json(_status(sb, post))


@router.delete("/api/v1/statuses/{status_id}")
async def delete_status(status_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    post = sb.state.posts[NETWORK].get(status_id)
    if post is None or post.deleted or post.account_id != account.id:
        raise errors.mastodon_error(404, "Record not found")
    post.deleted = True
    out = _status(sb, post)
    out["text"] = post.text
    return json(out)


@router.get("/api/v1/statuses/{status_id}/context")
async def status_context(status_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    posts = sb.state.posts[NETWORK]
    if status_id not in posts:
        raise errors.mastodon_error(404, "Record not found")
    descendants = [_status(sb, p) for p in posts.values()
                   if p.reply_to == status_id and not p.deleted]
    ancestors = []
    parent = posts[status_id].reply_to
    while parent and parent in posts:
        ancestors.insert(0, _status(sb, posts[parent]))
        parent = posts[parent].reply_to
    return json({"ancestors": ancestors, "descendants": descendants})


@router.get("/api/v1/accounts/{account_id}/statuses")
async def account_statuses(account_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    posts = [p for p in sb.state.account_posts(NETWORK, account_id) if not p.deleted]
    posts.sort(key=lambda p: int(p.id), reverse=True)
    page, headers = _page(request, posts, lambda p: p.id, "/api/v1/accounts/"
                          f"{account_id}/statuses", 20, 40)
    return json([_status(sb, p) for p in page], headers=headers)


def _page(request: Request, items: list[Any], key: Any, path: str, default: int,
          maximum: int) -> tuple[list[Any], dict[str, str]]:
    """Mastodon's id-window paging: max_id / since_id / min_id plus a Link header."""
    q = request.query_params
    try:
        limit = min(maximum, max(1, int(q.get("limit", default))))
    except ValueError:
        limit = default
    if q.get("max_id"):
        items = [i for i in items if int(key(i)) < int(q["max_id"])]
    if q.get("since_id"):
        items = [i for i in items if int(key(i)) > int(q["since_id"])]
    if q.get("min_id"):
        items = [i for i in items if int(key(i)) > int(q["min_id"])]
        page = items[-limit:]
    else:
        page = items[:limit]
    headers: dict[str, str] = {}
    if page:
        base = f"{sandbox_of(request).base_url(NETWORK)}{path}"
        extra = "".join(f"&types[]={t}" for t in q.getlist("types[]"))
        links = [f'<{base}?max_id={key(page[-1])}{extra}>; rel="next"',
                 f'<{base}?min_id={key(page[0])}{extra}>; rel="prev"']
        headers["Link"] = ", ".join(links)
    return page, headers


# media -------------------------------------------------------------------------------------------


async def _upload(request: Request, *, v2: bool) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    p = await params(request)
    file = p.get("file")
    if not isinstance(file, Part):
        raise errors.mastodon_error(422, "Validation failed: File can't be blank")
    item = media_from_bytes(sb.state.snowflake(), NETWORK, account.id, file.data)
    if item is None:
        raise errors.mastodon_error(422, "Validation failed: File content type is invalid")
    item.alt = str(p.get("description") or "")
    sb.state.media[NETWORK][item.id] = item
    entity = _media_entity(media_ref(item))
    if item.status != "succeeded":
        if v2:
            entity["url"] = None
            return json(entity, 202)
        # v1 processes synchronously.
        item.status = "succeeded"
    return json(entity)


@router.post("/api/v1/media")
async def upload_v1(request: Request) -> Response:
    return await _upload(request, v2=False)


@router.post("/api/v2/media")
async def upload_v2(request: Request) -> Response:
    return await _upload(request, v2=True)


@router.get("/api/v1/media/{media_id}")
async def get_media(media_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    item = sb.state.media[NETWORK].get(media_id)
    if item is None or item.account_id != account.id:
        raise errors.mastodon_error(404, "Record not found")
    entity = _media_entity(media_ref(item))
    if item.status != "succeeded":
        item.polls += 1
        if item.polls > sb.settings.processing_polls:
            item.status = "succeeded"
        else:
            entity["url"] = None
            return json(entity, 206)
    return json(entity)


@router.put("/api/v1/media/{media_id}")
async def update_media(media_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    item = sb.state.media[NETWORK].get(media_id)
    if item is None or item.account_id != account.id:
        raise errors.mastodon_error(404, "Record not found")
    p = await params(request)
    if "description" in p:
        item.alt = str(p["description"])
    return json(_media_entity(media_ref(item)))


# notifications -----------------------------------------------------------------------------------


@router.get("/api/v1/notifications")
async def notifications(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    q = request.query_params
    types = set(q.getlist("types[]")) or set(q.getlist("types"))
    exclude = set(q.getlist("exclude_types[]"))
    items = [
        n for n in reversed(sb.state.notifications.get((NETWORK, account.id), []))
        if (not types or n["type"] in types) and n["type"] not in exclude
    ]
    page, headers = _page(request, items, lambda n: n["id"], "/api/v1/notifications", 40, 80)
    out = []
    posts = sb.state.posts[NETWORK]
    for n in page:
        fan = sb.state.fan_ids.get((NETWORK, n["account_id"]))
        status = posts.get(n["status_id"]) if n.get("status_id") else None
        out.append({
            "id": n["id"], "type": n["type"], "created_at": n["created_at"],
            "account": _account_entity(sb, fan, fan=True) if fan else None,
            "status": _status(sb, status) if status else None,
        })
    return json(out, headers=headers)
