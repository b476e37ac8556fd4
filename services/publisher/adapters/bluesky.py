"""Bluesky (atproto). Posts are written with a record key derived from the target, so a resend
after an unknown outcome is refused by the PDS instead of posting twice, and "already exists"
means our earlier attempt got through."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from services.publisher import previews
from services.publisher.adapters import richtext
from services.publisher.adapters.base import (
    Account,
    Adapter,
    ChannelRef,
    NetworkError,
    Notification,
    Outgoing,
    Published,
    followers,
    retry_after_seconds,
)

POST = "app.bsky.feed.post"
# Where the PDS forwards chat.bsky.* calls (direct messages).
CHAT_SERVICE = "did:web:api.bsky.chat#bsky_chat"
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
BLUESKY_METRICS = {
    "likes": "likeCount",
    "shares": "repostCount",
    "replies": "replyCount",
    "quotes": "quoteCount",
}
EXPIRED = {"ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired"}


def record_key(key: str) -> str:
    """A valid TID (13 sortable base32 characters, top bit clear) fixed by `key`."""
    value = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") & ((1 << 63) - 1)
    out = ""
    for _ in range(13):
        out = TID_CHARS[value & 31] + out
        value >>= 5
    return out


def jwt_expiry(token: str) -> int | None:
    try:
        payload = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return int(claims["exp"])
    except (IndexError, KeyError, ValueError, TypeError, orjson.JSONDecodeError):
        return None


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class BlueskyAdapter(Adapter):
    network = "bluesky"
    real_url = "https://bsky.social"
    idempotent = True
    polls_notifications = True

    def xrpc(self, method: str) -> str:
        return f"{self.base_url}/xrpc/{method}"

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        message = str(body.get("message") or error or response.reason_phrase) if isinstance(
            body, dict) else response.reason_phrase
        status = response.status_code
        if status == 401 or error in EXPIRED:
            return NetworkError("auth_expired", message, status=status)
        if status == 429 or error == "RateLimitExceeded":
            return NetworkError("rate_limited", message, status=status,
                                retry_after=retry_after_seconds(response))
        if status >= 500:
            return NetworkError("unknown_outcome" if write else "transient", message,
                                status=status)
        if "already exists" in message:
            return NetworkError("duplicate", message, status=status)
        if "blob" in message.lower() or error in ("InvalidMimeType", "BlobTooLarge"):
            return NetworkError("media_error", message, status=status)
        return NetworkError("content_rejected", message, status=status)

    @staticmethod
    def session_credentials(credentials: dict[str, Any], session: dict[str, Any]
                            ) -> dict[str, Any]:
        return {
            **credentials,
            "did": session["did"],
            "handle": session.get("handle"),
            "access_token": session["accessJwt"],
            "refresh_token": session["refreshJwt"],
            "expires_at": jwt_expiry(session["accessJwt"]) or int(time.time() + 3600),
        }

    async def create_session(self, credentials: dict[str, Any]) -> dict[str, Any]:
        r = await self.call(
            "POST", self.xrpc("com.atproto.server.createSession"),
            json={"identifier": credentials.get("identifier") or credentials.get("did"),
                  "password": credentials.get("password")},
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        return self.session_credentials(credentials, r.json())

    async def verify(self, credentials: dict[str, Any]) -> Account:
        if credentials.get("password"):
            creds = await self.create_session(credentials)
        else:
            creds = credentials
        r = await self.call("GET", self.xrpc("com.atproto.server.getSession"),
                            headers=self.auth(creds))
        if r.status_code != 200:
            raise self.classify(r, write=False)
        data = r.json()
        return Account(external_id=data["did"], name=data.get("handle") or data["did"],
                       username=data.get("handle"), credentials=creds)

    async def refresh(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        token = credentials.get("refresh_token")
        if token:
            r = await self.call("POST", self.xrpc("com.atproto.server.refreshSession"),
                                headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 200:
                return self.session_credentials(credentials, r.json())
            error = self.classify(r, write=False)
            if error.error_class != "auth_expired":
                raise error
        if credentials.get("password"):
            # The refresh JWT is spent or gone; an app password opens a new session.
            return await self.create_session(credentials)
        return None

    @staticmethod
    def auth(credentials: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {credentials.get('access_token', '')}"}

    def post_url(self, channel: ChannelRef, uri: str) -> str:
        return f"https://bsky.app/profile/{channel.username or channel.external_id}/post/" + (
            uri.rsplit("/", 1)[-1])

    async def upload(self, creds: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        data, mime = await self.fetch_media(item)
        r = await self.call("POST", self.xrpc("com.atproto.repo.uploadBlob"), content=data,
                            headers={**self.auth(creds), "Content-Type": mime})
        if r.status_code != 200:
            raise self.classify(r, write=False)
        blob: dict[str, Any] = r.json()["blob"]
        return blob

    async def embed(self, creds: dict[str, Any], media: list[dict[str, Any]]
                    ) -> dict[str, Any] | None:
        if not media:
            return None
        if any(m.get("kind") == "video" for m in media):
            if len(media) > 1:
                raise NetworkError("media_error", "Bluesky takes one video and nothing else")
            blob = await self.upload(creds, media[0])
            return {"$type": "app.bsky.embed.video", "video": blob,
                    "alt": media[0].get("alt") or ""}
        if len(media) > 4:
            raise NetworkError("media_error", "Bluesky takes at most 4 images")
        images = [{"image": await self.upload(creds, m), "alt": m.get("alt") or ""}
                  for m in media]
        return {"$type": "app.bsky.embed.images", "images": images}

    async def link_card(self, creds: dict[str, Any], url: str) -> dict[str, Any] | None:
        """`app.bsky.embed.external` for the first link of a post without media: Bluesky shows
        only the card a client builds (title, description, thumbnail blob)."""
        if self.outbound is None:
            return None
        found = await previews.preview_of(
            url, client=self.outbound.client, policy=self.outbound.policy
        )
        if found is None:
            return None
        external: dict[str, Any] = {
            "uri": url, "title": found.title, "description": found.description,
        }
        if found.image:
            try:
                external["thumb"] = await self.upload(creds, {"url": found.image, "kind": "image"})
            except NetworkError as exc:
                if exc.error_class != "media_error":
                    raise
                # An image the page names but nobody can use: the card goes without it.
        return {"$type": "app.bsky.embed.external", "external": external}

    async def strong_refs(self, creds: dict[str, Any], uris: list[str]
                          ) -> dict[str, dict[str, str]]:
        r = await self.call("GET", self.xrpc("app.bsky.feed.getPosts"),
                            params={"uris": uris}, headers=self.auth(creds))
        if r.status_code != 200:
            raise self.classify(r, write=False)
        return {p["uri"]: {"uri": p["uri"], "cid": p["cid"]} for p in r.json()["posts"]}

    async def resolve_mentions(
        self, creds: dict[str, Any], spans: list[richtext.Span]
    ) -> dict[str, str]:
        """handle → DID for each mentioned handle that resolves; one that does not is left as
        text (as the official client does), anything else the network says is an error."""
        dids: dict[str, str] = {}
        for handle in dict.fromkeys(s.value for s in spans if s.kind == "mention"):
            r = await self.call("GET", self.xrpc("com.atproto.identity.resolveHandle"),
                                params={"handle": handle}, headers=self.auth(creds))
            if r.status_code == 200:
                dids[handle] = str(r.json()["did"])
            elif r.status_code != 400:
                raise self.classify(r, write=False)
        return dids

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        if post.is_dm:
            return await self.send_direct_message(credentials, post=post)
        record: dict[str, Any] = {
            "$type": POST, "text": post.text,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
        }
        if post.reply_to:
            root_uri = str(post.options.get("root_id") or post.reply_to)
            refs = await self.strong_refs(credentials, sorted({post.reply_to, root_uri}))
            if post.reply_to not in refs or root_uri not in refs:
                raise NetworkError("content_rejected", "the post to reply to is gone")
            record["reply"] = {"root": refs[root_uri], "parent": refs[post.reply_to]}
        spans = richtext.detect(post.text)
        if spans:
            dids = await self.resolve_mentions(credentials, spans)
            found = richtext.facets(spans, dids=dids)
            if found:
                record["facets"] = found
        embed = await self.embed(credentials, post.media)
        if embed is None:
            link = next((s.value for s in spans if s.kind == "link"), None)
            embed = await self.link_card(credentials, link) if link else None
        if embed is not None:
            record["embed"] = embed
        rkey = record_key(post.target_id)
        r = await self.call(
            "POST", self.xrpc("com.atproto.repo.createRecord"), write=True,
            json={"repo": credentials.get("did") or channel.external_id, "collection": POST,
                  "rkey": rkey, "record": record},
            headers=self.auth(credentials),
        )
        if r.status_code == 200:
            uri = r.json()["uri"]
            return Published(external_id=uri, url=self.post_url(channel, uri))
        error = self.classify(r, write=True)
        if error.error_class == "duplicate":
            # The key is ours alone: the record that holds it is the one an earlier attempt
            # wrote, so this post is already out.
            uri = f"at://{credentials.get('did') or channel.external_id}/{POST}/{rkey}"
            return Published(external_id=uri, url=self.post_url(channel, uri))
        raise error

    async def delete(self, credentials: dict[str, Any], external_id: str) -> None:
        """`com.atproto.repo.deleteRecord` of the post's record (repo, collection and rkey are
        the parts of its at:// URI); deleting a record that is not there succeeds."""
        repo, collection, rkey = external_id.removeprefix("at://").split("/", 2)
        await self.change(
            "POST", self.xrpc("com.atproto.repo.deleteRecord"),
            json={"repo": repo, "collection": collection, "rkey": rkey},
            headers=self.auth(credentials),
        )

    async def account_numbers(
        self, credentials: dict[str, Any], *, channel: ChannelRef
    ) -> dict[str, tuple[str, float]]:
        r = await self.call(
            "GET",
            self.xrpc("app.bsky.actor.getProfile"),
            params={"actor": credentials.get("did") or channel.external_id},
            headers=self.auth(credentials),
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        return followers("followersCount", r.json().get("followersCount"))

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        for start in range(0, len(external_ids), 25):  # getPosts takes at most 25 uris
            r = await self.call("GET", self.xrpc("app.bsky.feed.getPosts"),
                                params={"uris": external_ids[start : start + 25]},
                                headers=self.auth(credentials))
            if r.status_code != 200:
                raise self.classify(r, write=False)
            for view in r.json()["posts"]:
                found[view["uri"]] = {
                    ours: (theirs, view[theirs]) for ours, theirs in BLUESKY_METRICS.items()
                    if view.get(theirs) is not None
                }
        return found

    async def notifications(
        self, credentials: dict[str, Any], *, channel: ChannelRef, cursor: str | None
    ) -> tuple[list[Notification], str | None]:
        """Replies, mentions and quotes, then direct messages; the cursor keeps where each
        stopped as `<indexedAt>|<message rev>` (a cursor from before DMs were read has no
        `|`: its DMs are all read once)."""
        seen, _, chat_seen = (cursor or "").partition("|")
        items, newest = await self.mentions_and_replies(
            credentials, channel=channel, cursor=seen or None
        )
        messages, chat_newest = await self.direct_messages(
            credentials, channel=channel, since=chat_seen
        )
        items = sorted([*items, *messages], key=lambda item: item.created_at)
        if not newest and not chat_newest:
            return items, None
        return items, f"{newest or ''}|{chat_newest}"

    async def mentions_and_replies(
        self, credentials: dict[str, Any], *, channel: ChannelRef, cursor: str | None
    ) -> tuple[list[Notification], str | None]:
        """listNotifications pages from the newest back; the stored cursor is the newest
        `indexedAt` already seen, so paging stops once it reaches older items."""
        seen = cursor or ""
        newest = seen
        items: list[Notification] = []
        params: dict[str, Any] = {"limit": 100,
                                  "reasons": ["reply", "mention", "quote"]}
        for _page in range(20):
            r = await self.call("GET", self.xrpc("app.bsky.notification.listNotifications"),
                                params=params, headers=self.auth(credentials))
            if r.status_code != 200:
                raise self.classify(r, write=False)
            body = r.json()
            older = False
            for n in body.get("notifications") or []:
                if n["indexedAt"] <= seen:
                    older = True
                    break
                newest = max(newest, n["indexedAt"])
                if n["reason"] not in ("reply", "mention", "quote"):
                    continue
                record = n.get("record") or {}
                reply = record.get("reply") or {}
                items.append(Notification(
                    external_id=n["uri"],
                    kind="comment" if n["reason"] == "reply" else "mention",
                    text=record.get("text", ""),
                    author_id=n["author"]["did"],
                    author_name=n["author"].get("displayName") or n["author"].get("handle"),
                    created_at=when(record.get("createdAt") or n["indexedAt"]),
                    parent_external_id=(reply.get("parent") or {}).get("uri"),
                    post_external_id=(reply.get("root") or {}).get("uri"),
                    raw={"cid": n.get("cid"), "reason": n["reason"],
                         "root": reply.get("root"), "parent": reply.get("parent")},
                ))
            if older or not body.get("cursor"):
                break
            params["cursor"] = body["cursor"]
        items.reverse()
        return items, newest or None

    # Direct messages: the chat service, reached through the PDS with the atproto-proxy header.

    async def chat(
        self, credentials: dict[str, Any], method: str, name: str, *, write: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        r = await self.call(
            method, self.xrpc(name), write=write,
            headers={**self.auth(credentials), "atproto-proxy": CHAT_SERVICE}, **kwargs,
        )
        if r.status_code != 200:
            raise self.classify(r, write=write)
        body: dict[str, Any] = r.json()
        return body

    async def direct_messages(
        self, credentials: dict[str, Any], *, channel: ChannelRef, since: str
    ) -> tuple[list[Notification], str]:
        """Messages from others in the conversations that moved since `since` (a `rev`; revs
        sort in time), and the newest rev seen. listConvos comes newest first, so paging stops
        at the first conversation that has not moved."""
        me = credentials.get("did") or channel.external_id
        newest = since
        items: list[Notification] = []
        params: dict[str, Any] = {"limit": 100}
        for _page in range(20):
            body = await self.chat(credentials, "GET", "chat.bsky.convo.listConvos", params=params)
            convos = body.get("convos") or []
            moved = [c for c in convos if c.get("rev", "") > since]
            for convo in moved:
                items += await self.convo_messages(credentials, convo=convo, me=me, since=since)
                newest = max(newest, convo["rev"])
            if len(moved) < len(convos) or not body.get("cursor"):
                break
            params["cursor"] = body["cursor"]
        return items, newest

    async def convo_messages(
        self, credentials: dict[str, Any], *, convo: dict[str, Any], me: str, since: str
    ) -> list[Notification]:
        """The conversation's messages from others newer than `since`, oldest first."""
        people = {m["did"]: m for m in convo.get("members") or []}
        items: list[Notification] = []
        params: dict[str, Any] = {"convoId": convo["id"], "limit": 100}
        for _page in range(20):
            body = await self.chat(credentials, "GET", "chat.bsky.convo.getMessages",
                                   params=params)
            messages = body.get("messages") or []
            for message in messages:
                if message.get("rev", "") <= since:
                    return list(reversed(items))
                sender = (message.get("sender") or {}).get("did")
                # Our own replies, and messages deleted since, are not the audience's words.
                if sender == me or "text" not in message:
                    continue
                person = people.get(sender) or {}
                items.append(Notification(
                    external_id=message["id"], kind="dm", text=message["text"],
                    author_id=sender, author_name=person.get("displayName") or person.get("handle"),
                    created_at=when(message["sentAt"]),
                    raw={"convo_id": convo["id"], "rev": message["rev"],
                         "handle": person.get("handle")},
                ))
            if not body.get("cursor"):
                break
            params["cursor"] = body["cursor"]
        return list(reversed(items))

    async def send_direct_message(
        self, credentials: dict[str, Any], *, post: Outgoing
    ) -> Published:
        """A reply to a DM: the conversation with the person, then a message in it."""
        recipient = post.options.get("recipient_id")
        if not recipient:
            raise NetworkError("content_rejected", "a direct message needs its recipient")
        found = await self.chat(credentials, "GET", "chat.bsky.convo.getConvoForMembers",
                                params={"members": [recipient]})
        sent = await self.chat(
            credentials, "POST", "chat.bsky.convo.sendMessage", write=True,
            json={"convoId": found["convo"]["id"], "message": {"text": post.text}},
        )
        return Published(external_id=str(sent["id"]), url=None)
