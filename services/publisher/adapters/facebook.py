"""Facebook Pages (Graph API), and the Graph error and usage rules Instagram and Threads share.

Graph has no idempotency key, so an unknown outcome is settled by reading the page's feed (or
the comments under the parent, for replies) before anything is sent again.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import httpx
import orjson

from services.publisher.adapters.base import (
    Account,
    Adapter,
    ChannelRef,
    Lookup,
    NetworkError,
    Outgoing,
    Published,
    retry_after_seconds,
)
from shared.errors import ValidationFailed
from shared.networks.formats import REEL, format_of
from shared.outbound import OutboundRefused, OutboundTimeout, fetch

GRAPH_VERSION = "v21.0"
# Facebook fetches a video by URL (`file_url`) up to 1 GB (unconfirmed); beyond that the
# publisher uploads it itself, in chunks.
RESUMABLE_ABOVE_BYTES = 1024 * 1024 * 1024
# Throttling codes, often answered as 400/403 rather than 429.
THROTTLED = {4, 17, 32, 613, 80001, 80002, 80004}
FACEBOOK_METRICS = {
    "views": "post_media_view",
    "reach": "post_total_media_view_unique",
    "clicks": "post_clicks",
    "likes": "post_reactions_like_total",
}


def usage_wait(response: httpx.Response) -> float | None:
    """Seconds until Meta lets the app or page call again, from its usage headers: None
    while every counter is under 100 %."""
    wait: float | None = None
    for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage"):
        raw = response.headers.get(name)
        if not raw:
            continue
        try:
            usage = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        entries: list[dict[str, Any]] = []
        if isinstance(usage, dict) and "call_count" in usage:
            entries = [usage]
        elif isinstance(usage, dict):
            entries = [e for v in usage.values() if isinstance(v, list) for e in v]
        for entry in entries:
            minutes = entry.get("estimated_time_to_regain_access")
            full = any(
                isinstance(entry.get(k), int | float) and entry[k] >= 100
                for k in ("call_count", "total_cputime", "total_time")
            )
            if minutes:
                wait = max(wait or 0.0, float(minutes) * 60)
            elif full:
                wait = max(wait or 0.0, 60.0)
    return wait


def graph_error(network: str, response: httpx.Response, *, write: bool) -> NetworkError:
    try:
        err = response.json().get("error") or {}
    except (ValueError, AttributeError):
        err = {}
    code = err.get("code")
    message = str(err.get("message") or response.reason_phrase)
    status = response.status_code
    if code == 190 or status == 401:
        return NetworkError("auth_expired", message, status=status)
    if code in THROTTLED or status == 429:
        wait = usage_wait(response) or retry_after_seconds(response)
        return NetworkError("rate_limited", message, status=status, retry_after=wait)
    if code == 506 or "duplicate" in message.lower():
        return NetworkError("duplicate", message, status=status)
    if status >= 500 or code in (1, 2) or err.get("is_transient"):
        return NetworkError("unknown_outcome" if write else "transient", message,
                            status=status)
    if code in (324, 352, 9004, 36000, 36001, 36003) or "media" in message.lower():
        return NetworkError("media_error", message, status=status)
    return NetworkError("content_rejected", f"{network}: {message}", status=status)


def graph_gone(response: httpx.Response) -> bool:
    """Graph's answer for an object that is not there: 404, or 400 with code 100 and subcode
    33 ("Object with ID … does not exist")."""
    if response.status_code == 404:
        return True
    try:
        err = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return False
    return bool(err.get("code") == 100 and err.get("error_subcode") == 33)


def graph_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


class FacebookAdapter(Adapter):
    network = "facebook"
    real_url = "https://graph.facebook.com"
    # Larger videos go up in chunks (the publisher's `facebook_resumable_above_bytes`).
    resumable_above_bytes = RESUMABLE_ABOVE_BYTES

    def graph(self, path: str) -> str:
        return f"{self.base_url}/{GRAPH_VERSION}/{path.lstrip('/')}"

    @staticmethod
    def auth(credentials: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {credentials.get('access_token', '')}"}

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        return graph_error(self.network, response, write=write)

    def gone(self, response: httpx.Response) -> bool:
        return graph_gone(response)

    async def edit(
        self, credentials: dict[str, Any], external_id: str, changes: dict[str, str]
    ) -> None:
        # A feed post (`{page}_{post}`) has a `message`; a reel is known by its video id, and a
        # video's words are its `description`.
        field = "message" if "_" in external_id else "description"
        await self.change("POST", self.graph(external_id), data={field: changes["text"]},
                          headers=self.auth(credentials))

    async def delete(self, credentials: dict[str, Any], external_id: str) -> None:
        await self.change("DELETE", self.graph(external_id), gone_ok=True,
                          headers=self.auth(credentials))

    async def get(self, credentials: dict[str, Any], path: str, **params: Any) -> Any:
        r = await self.call("GET", self.graph(path), params=params, headers=self.auth(credentials))
        if r.status_code != 200:
            raise graph_error(self.network, r, write=False)
        return r.json()

    async def verify(self, credentials: dict[str, Any]) -> Account:
        managed = await self.managed_page(credentials)
        if managed is not None:
            # Published with the Page's own token: a person's token cannot post as the Page.
            credentials = {**credentials, "access_token": str(managed["access_token"]),
                           "page_id": str(managed["id"])}
        page = str(credentials.get("page_id") or "me")
        data = await self.get(credentials, page, fields="id,name")
        creds = {**credentials, "page_id": str(data["id"])}
        return Account(external_id=str(data["id"]), name=data["name"], credentials=creds)

    async def managed_page(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        """With a person's token (Facebook Login), the Page to connect from `/me/accounts`:
        the one `page_id` names, or the only one they manage. None for a Page's own token,
        which has no `accounts`."""
        try:
            data = await self.get(credentials, "me/accounts", fields="id,name,access_token")
        except NetworkError as exc:
            if exc.error_class == "content_rejected":
                return None
            raise
        pages: list[dict[str, Any]] = [
            p for p in data.get("data") or [] if p.get("access_token")
        ]
        wanted = credentials.get("page_id")
        chosen = [p for p in pages if not wanted or str(p.get("id")) == str(wanted)]
        if len(chosen) == 1:
            return chosen[0]
        names = ", ".join(f"{p.get('name')} ({p.get('id')})" for p in pages) or "none"
        raise ValidationFailed(
            f"Name the Facebook Page to connect with page_id; this account manages: {names}",
            field="credentials.page_id",
        )

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        if post.is_dm:
            return await self.message(credentials, channel=channel, post=post)
        if post.reply_to:
            path, body = f"{post.reply_to}/comments", {"message": post.text}
        elif format_of(post.options) == REEL:
            return await self.publish_reel(credentials, channel=channel, post=post)
        elif any(m.get("kind") == "video" for m in post.media):
            return await self.publish_video(credentials, channel=channel, post=post)
        elif post.media:
            path, body = await self.with_photos(credentials, channel=channel, post=post)
        else:
            path, body = f"{channel.external_id}/feed", {"message": post.text}
            if post.options.get("link"):
                body["link"] = str(post.options["link"])
        r = await self.call("POST", self.graph(path), write=True, data=body,
                            headers=self.auth(credentials))
        if r.status_code != 200:
            raise graph_error(self.network, r, write=True)
        data = r.json()
        post_id = str(data.get("post_id") or data["id"])
        return Published(external_id=post_id, url=f"https://www.facebook.com/{post_id}")

    async def with_photos(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> tuple[str, dict[str, Any]]:
        """One photo is a photo post; several are uploaded unpublished, then attached to one
        feed post (`attached_media`), which is how a Page shows them together."""
        if len(post.media) == 1:
            return f"{channel.external_id}/photos", {"url": post.media[0]["url"],
                                                     "caption": post.text}
        body: dict[str, Any] = {"message": post.text}
        for index, item in enumerate(post.media):
            r = await self.call(
                "POST", self.graph(f"{channel.external_id}/photos"),
                data={"url": item["url"], "published": "false"}, headers=self.auth(credentials),
            )
            if r.status_code != 200:
                # Unpublished photos show nowhere: a failure here leaves no post behind.
                raise graph_error(self.network, r, write=False)
            body[f"attached_media[{index}]"] = json.dumps({"media_fbid": str(r.json()["id"])})
        return f"{channel.external_id}/feed", body

    async def publish_video(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        """`POST /{page-id}/videos` with the video's URL (Facebook fetches it), then the Page
        post that shows it, so edits and deletes act on the post."""
        if len(post.media) > 1:
            raise NetworkError("media_error", "a Facebook video post carries the video alone")
        size = await self.media_size(str(post.media[0]["url"]))
        if size is not None and size > self.resumable_above_bytes:
            video_id = await self.upload_resumable(credentials, channel=channel, post=post)
        else:
            r = await self.call(
                "POST", self.graph(f"{channel.external_id}/videos"), write=True,
                data={"file_url": post.media[0]["url"], "description": post.text},
                headers=self.auth(credentials),
            )
            if r.status_code != 200:
                raise graph_error(self.network, r, write=True)
            video_id = str(r.json()["id"])
        try:
            data = await self.get(credentials, video_id, fields="post_id")
        except NetworkError as exc:
            # The video is on the Page: a new attempt must look for it, not upload again.
            raise NetworkError("unknown_outcome", f"video {video_id} posted: {exc.message}"
                               ) from exc
        post_id = str(data.get("post_id") or video_id)
        return Published(external_id=post_id, url=f"https://www.facebook.com/{post_id}")

    async def media_size(self, url: str) -> int | None:
        """The video's size from its host (`HEAD`), or None when the host does not say: then
        Facebook fetches it by URL as any other."""
        if self.outbound is None:
            return None
        try:
            r = await fetch(self.outbound.client, "HEAD", url, policy=self.outbound.policy)
        except (OutboundRefused, OutboundTimeout, httpx.HTTPError):
            return None
        length = r.headers.get("content-length", "")
        return int(length) if r.status_code == 200 and length.isdigit() else None

    async def upload_resumable(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> str:
        """`POST /{page-id}/videos` by resumable upload: `start` with the size opens a
        session, `transfer` sends each chunk at the offsets Facebook names, `finish` posts the
        video with its description. Only `finish` can leave a post behind."""
        data, _mime = await self.fetch_media(post.media[0])
        edge = self.graph(f"{channel.external_id}/videos")
        started = await self.upload_step(
            credentials, edge, {"upload_phase": "start", "file_size": str(len(data))}
        )
        session = str(started["upload_session_id"])
        start, end = int(started["start_offset"]), int(started["end_offset"])
        while start < end:
            step = await self.upload_step(
                credentials, edge,
                {"upload_phase": "transfer", "upload_session_id": session,
                 "start_offset": str(start)},
                files={"video_file_chunk": ("chunk", data[start:end], "application/octet-stream")},
            )
            start, end = int(step["start_offset"]), int(step["end_offset"])
        await self.upload_step(
            credentials, edge,
            {"upload_phase": "finish", "upload_session_id": session, "description": post.text},
            write=True,
        )
        return str(started["video_id"])

    async def upload_step(
        self, credentials: dict[str, Any], edge: str, data: dict[str, str], *,
        files: dict[str, Any] | None = None, write: bool = False,
    ) -> Any:
        r = await self.call("POST", edge, write=write, data=data, files=files,
                            headers=self.auth(credentials))
        if r.status_code != 200:
            raise graph_error(self.network, r, write=write)
        return r.json()

    async def publish_reel(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        """`POST /{page-id}/video_reels` in three phases: `start` gives the video id and the
        upload URL; the upload hands Facebook the video's own URL (`file_url` header), which
        it fetches; `finish` with `video_state=PUBLISHED` posts the reel with its description.
        Until `finish` nothing shows, so only that call is an unknown outcome."""
        if len(post.media) != 1 or post.media[0].get("kind") != "video":
            raise NetworkError("media_error", "a Facebook reel is one video")
        edge = self.graph(f"{channel.external_id}/video_reels")
        r = await self.call("POST", edge, data={"upload_phase": "start"},
                            headers=self.auth(credentials))
        if r.status_code != 200:
            raise graph_error(self.network, r, write=False)
        started = r.json()
        video_id = str(started["video_id"])
        r = await self.call(
            "POST", str(started["upload_url"]),
            headers={"Authorization": f"OAuth {credentials.get('access_token', '')}",
                     "file_url": str(post.media[0]["url"])},
        )
        if r.status_code != 200:
            raise graph_error(self.network, r, write=False)
        r = await self.call(
            "POST", edge, write=True,
            data={"upload_phase": "finish", "video_id": video_id, "video_state": "PUBLISHED",
                  "description": post.text},
            headers=self.auth(credentials),
        )
        if r.status_code != 200:
            raise graph_error(self.network, r, write=True)
        return Published(external_id=video_id, url=f"https://www.facebook.com/reel/{video_id}")

    async def message(self, credentials: dict[str, Any], *, channel: ChannelRef,
                      post: Outgoing) -> Published:
        r = await self.call(
            "POST", self.graph(f"{channel.external_id}/messages"), write=True,
            json={"recipient": {"id": post.options.get("recipient_id")},
                  "messaging_type": "RESPONSE", "message": {"text": post.text}},
            headers=self.auth(credentials),
        )
        if r.status_code != 200:
            raise graph_error(self.network, r, write=True)
        return Published(external_id=str(r.json()["message_id"]), url=None)

    async def find_published(
        self, credentials: dict[str, Any], lookup: Lookup
    ) -> Published | None:
        channel, post, since, until = lookup.channel, lookup.post, lookup.since, lookup.until
        if post.is_dm:
            return None  # Messenger cannot be searched: a lost DM answer stays unknown
        if post.reply_to:
            items = (await self.get(credentials, f"{post.reply_to}/comments",
                                    fields="id,message,created_time,from"))["data"]
            items = [c for c in items if (c.get("from") or {}).get("id") == channel.external_id]
        else:
            items = (await self.get(credentials, f"{channel.external_id}/feed",
                                    fields="id,message,created_time", limit=100))["data"]
        for item in items:
            created = graph_time(item["created_time"])
            if since <= created <= until and (item.get("message") or "") == post.text:
                return Published(external_id=str(item["id"]),
                                 url=f"https://www.facebook.com/{item['id']}")
        return None

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        by_name = {theirs: ours for ours, theirs in FACEBOOK_METRICS.items()}
        for post_id in external_ids:
            data = (await self.get(credentials, f"{post_id}/insights",
                                   metric=",".join(FACEBOOK_METRICS.values())))["data"]
            found[post_id] = {
                by_name[m["name"]]: (m["name"], m["values"][0]["value"])
                for m in data if m["name"] in by_name and m.get("values")
            }
        return found

    async def refresh(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        """Exchanges the current long-lived token for a fresh one (it must still be valid)."""
        if self.app is None or not credentials.get("access_token"):
            return None
        r = await self.call(
            "GET", self.graph("oauth/access_token"),
            params={"grant_type": "fb_exchange_token", "client_id": self.app.client_id,
                    "client_secret": self.app.client_secret,
                    "fb_exchange_token": credentials["access_token"]},
        )
        if r.status_code != 200:
            error = graph_error(self.network, r, write=False)
            if error.error_class in ("auth_expired", "content_rejected"):
                raise NetworkError("auth_expired", error.message, status=r.status_code)
            raise error
        issued = r.json()
        return {**credentials, "access_token": issued["access_token"],
                "expires_at": int(time.time() + int(issued.get("expires_in", 5_184_000)))}
