"""TikTok (Content Posting API, direct post). Three steps: init (which gives a publish id and an
upload URL), PUT the video in chunks, then poll the publish status until TikTok has processed
it. TikTok has no idempotency key: the post comes into being when the last chunk lands, so
from then on every doubt is settled with the publish status, and a doubt that outlives the
attempt is settled by listing the creator's videos before anything is sent again."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from services.publisher.adapters.base import (
    Account,
    Adapter,
    ChannelRef,
    Lookup,
    NetworkError,
    Outgoing,
    Published,
    bearer,
    followers,
    retry_after_seconds,
)
from services.publisher.settings import NetworkApp

MB = 1024 * 1024
# Media transfer guide: one whole chunk up to 64 MB; larger files in 5–64 MB chunks, the
# remainder riding on the last one (which may reach 128 MB).
WHOLE_MAX = 64 * MB
CHUNK = 10 * MB
MAX_PHOTOS, MAX_PHOTO_TITLE = 35, 90
TIKTOK_METRICS = {
    "views": "view_count",
    "likes": "like_count",
    "comments": "comment_count",
    "shares": "share_count",
}
RATE_LIMITED = {
    "rate_limit_exceeded": 60.0,
    "spam_risk_too_many_pending_share": 600.0,
    "spam_risk_too_many_posts": 3600.0,
    "reached_active_user_cap": 3600.0,
}
MEDIA_FAILURES = {
    "file_format_check_failed",
    "duration_check_failed",
    "frame_rate_check_failed",
    "picture_size_check_failed",
    "video_pull_failed",
    "photo_pull_failed",
    "picture_pull_failed",
}
JSON = {"Content-Type": "application/json; charset=UTF-8"}


def chunk_plan(size: int) -> list[tuple[int, int]]:
    """(first byte, last byte) of each chunk to upload."""
    if size <= WHOLE_MAX:
        return [(0, size - 1)]
    count = size // CHUNK
    bounds = [(i * CHUNK, (i + 1) * CHUNK - 1) for i in range(count)]
    bounds[-1] = (bounds[-1][0], size - 1)
    return bounds


class TikTokAdapter(Adapter):
    network = "tiktok"
    token_seconds = 86400
    real_url = "https://open.tiktokapis.com"
    # Seconds between status polls, and how long one attempt waits for processing to end.
    poll_interval: float = 1.0
    processing_wait: float = 60.0

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        error = (body.get("error") or {}) if isinstance(body, dict) else {}
        if not isinstance(error, dict):  # the OAuth endpoint: {"error": "invalid_grant", ...}
            error = {"code": str(error), "message": body.get("error_description", "")}
        code = str(error.get("code") or "")
        message = str(error.get("message") or code or response.reason_phrase)
        status = response.status_code
        detail = f"{code}: {message}" if code else message
        return self.error_for(code, detail, status=status, write=write, response=response)

    def error_for(
        self,
        code: str,
        detail: str,
        *,
        status: int | None,
        write: bool,
        response: httpx.Response | None = None,
    ) -> NetworkError:
        if status == 401 or code in (
            "access_token_invalid",
            "scope_not_authorized",
            "auth_removed",
        ):
            return NetworkError("auth_expired", detail, status=status)
        if status == 429 or code in RATE_LIMITED:
            wait = retry_after_seconds(response) if response is not None else None
            return NetworkError(
                "rate_limited",
                detail,
                status=status,
                retry_after=wait if wait is not None else RATE_LIMITED.get(code, 60.0),
            )
        if (status or 0) >= 500 or code == "internal_error":
            return NetworkError("unknown_outcome" if write else "transient", detail, status=status)
        if code in MEDIA_FAILURES or "video" in code or "chunk" in detail.lower():
            return NetworkError("media_error", detail, status=status)
        return NetworkError("content_rejected", f"tiktok: {detail}", status=status)

    async def api(
        self,
        credentials: dict[str, Any],
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        write: bool = False,
    ) -> dict[str, Any]:
        """POSTs JSON and answers `data`; TikTok reports failures in `error.code`."""
        r = await self.call(
            "POST",
            self.url(path),
            write=write,
            json=body or {},
            params=params,
            headers={**bearer(credentials), **JSON},
        )
        try:
            payload = r.json()
        except ValueError:
            payload = {}
        code = str(
            ((payload.get("error") or {}) if isinstance(payload, dict) else {}).get("code") or ""
        )
        if r.status_code != 200 or code not in ("", "ok"):
            raise self.classify(r, write=write)
        data: dict[str, Any] = payload.get("data") or {}
        return data

    async def verify(self, credentials: dict[str, Any]) -> Account:
        r = await self.call(
            "GET",
            self.url("/v2/user/info/"),
            headers=bearer(credentials),
            params={"fields": "open_id,union_id,display_name,username"},
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        user = r.json()["data"]["user"]
        return Account(
            external_id=str(user["open_id"]),
            name=user.get("display_name") or user.get("username") or "TikTok",
            username=user.get("username"),
        )

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        if post.reply_to or post.is_dm:
            raise NetworkError(
                "content_rejected", "TikTok's API does not let apps write comments or messages"
            )
        photo = post.options.get("post_type") == "photo"
        if photo and not (
            1 <= len(post.media) <= MAX_PHOTOS and all(m.get("kind") == "image" for m in post.media)
        ):
            raise NetworkError("media_error", f"a TikTok photo post is 1 to {MAX_PHOTOS} images")
        if not photo and (len(post.media) != 1 or post.media[0].get("kind") != "video"):
            raise NetworkError("media_error", "a TikTok post is exactly one video")
        creator = await self.api(credentials, "/v2/post/publish/creator_info/query/")
        offered = [str(p) for p in creator.get("privacy_level_options") or []]
        privacy = str(post.options.get("privacy_level") or "")
        if privacy not in offered:
            raise NetworkError(
                "content_rejected",
                f"privacy_level {privacy or '(none)'} is not offered for this account; "
                f"it offers {', '.join(offered) or 'nothing'}",
            )
        if photo:
            return await self.publish_photos(
                credentials, channel=channel, post=post, privacy=privacy, creator=creator
            )
        data, mime = await self.fetch_media(post.media[0])
        plan = chunk_plan(len(data))
        post_info: dict[str, Any] = {
            "title": post.text,
            "privacy_level": privacy,
            "disable_comment": bool(
                post.options.get("disable_comment") or creator.get("comment_disabled")
            ),
            "disable_duet": bool(post.options.get("disable_duet") or creator.get("duet_disabled")),
            "disable_stitch": bool(
                post.options.get("disable_stitch") or creator.get("stitch_disabled")
            ),
        }
        for flag in ("brand_content_toggle", "brand_organic_toggle", "is_aigc"):
            if flag in post.options:
                post_info[flag] = bool(post.options[flag])
        init = await self.api(
            credentials,
            "/v2/post/publish/video/init/",
            body={
                "post_info": post_info,
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": len(data),
                    "chunk_size": plan[0][1] + 1,
                    "total_chunk_count": len(plan),
                },
            },
        )
        publish_id = str(init["publish_id"])
        upload_url = self.upload_target(str(init["upload_url"]))
        for index, (first, last) in enumerate(plan):
            final = index == len(plan) - 1
            try:
                await self.put_chunk(upload_url, data, mime, first, last, final=final)
            except NetworkError as exc:
                if not final or exc.error_class != "unknown_outcome":
                    raise
                # The last chunk may have landed: the publish status knows.
                break
        return await self.settle(
            credentials,
            channel=channel,
            publish_id=publish_id,
            upload=(upload_url, data, mime, plan[-1]),
        )

    async def publish_photos(
        self,
        credentials: dict[str, Any],
        *,
        channel: ChannelRef,
        post: Outgoing,
        privacy: str,
        creator: dict[str, Any],
    ) -> Published:
        """Photo posts are pulled by TikTok from public URLs, so the init call itself starts
        publishing: a lost answer to it is an unknown outcome."""
        body = {
            "post_info": {
                "title": str(post.options.get("title") or "")[:MAX_PHOTO_TITLE],
                "description": post.text,
                "privacy_level": privacy,
                "disable_comment": bool(
                    post.options.get("disable_comment") or creator.get("comment_disabled")
                ),
                "auto_add_music": bool(post.options.get("auto_add_music", True)),
            },
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 0,
                "photo_images": [str(m["url"]) for m in post.media],
            },
            "post_mode": "DIRECT_POST",
            "media_type": "PHOTO",
        }
        try:
            init = await self.api(
                credentials, "/v2/post/publish/content/init/", body=body, write=True
            )
        except NetworkError as exc:
            if exc.error_class == "unknown_outcome":
                raise self.unknown(exc.message, status=exc.status) from exc
            if exc.error_class == "content_rejected" and "url" in exc.message.lower():
                raise NetworkError("media_error", exc.message, status=exc.status) from exc
            raise
        return await self.settle(
            credentials, channel=channel, publish_id=str(init["publish_id"]), upload=None
        )

    def upload_target(self, url: str) -> str:
        # The sandbox names its public address in upload URLs; keep talking where we are.
        if self.base_url != self.real_url and "/upload/" in url:
            return self.base_url + "/upload/" + url.split("/upload/", 1)[1]
        return url

    async def put_chunk(
        self, url: str, data: bytes, mime: str, first: int, last: int, *, final: bool
    ) -> None:
        r = await self.call(
            "PUT",
            url,
            write=final,
            content=data[first : last + 1],
            headers={"Content-Type": mime, "Content-Range": f"bytes {first}-{last}/{len(data)}"},
        )
        if r.status_code not in (200, 201, 206):
            raise self.classify(r, write=final)

    async def settle(
        self,
        credentials: dict[str, Any],
        *,
        channel: ChannelRef,
        publish_id: str,
        upload: tuple[str, bytes, str, tuple[int, int]] | None,
    ) -> Published:
        """Polls the publish status to an end. Once the last chunk was sent, no error here
        may lead to a blind resend, so anything short of a known ending is an unknown
        outcome (the next attempt looks the post up first)."""
        deadline = time.monotonic() + self.processing_wait
        resent = False
        delay = self.poll_interval
        failures = 0
        while True:
            try:
                status = await self.api(
                    credentials, "/v2/post/publish/status/fetch/", body={"publish_id": publish_id}
                )
            except NetworkError as exc:
                # A status read is safe to repeat; only a doubt that persists is handed on.
                failures += 1
                if (
                    exc.error_class in ("rate_limited", "transient", "unknown_outcome")
                    and failures < 5
                    and time.monotonic() < deadline
                ):
                    await asyncio.sleep(min(delay * failures, 5.0))
                    continue
                raise self.unknown(
                    f"status of {publish_id} unknown: {exc.message}", status=exc.status
                ) from exc
            state = str(status.get("status") or "")
            if state == "PUBLISH_COMPLETE":
                ids = status.get("publicaly_available_post_id") or []
                if ids:
                    video_id = str(ids[0])
                    return Published(external_id=video_id, url=self.video_url(channel, video_id))
                # Private posts (and public ones still in moderation) have no post id yet.
                return Published(external_id=publish_id, url=None)
            if state == "SEND_TO_USER_INBOX":
                return Published(external_id=publish_id, url=None)
            if state == "FAILED":
                reason = str(status.get("fail_reason") or "internal")
                if reason == "internal":
                    # TikTok says it failed: nothing was posted, a new attempt is safe.
                    raise NetworkError("transient", f"TikTok could not publish: {reason}")
                raise self.error_for(
                    reason, f"TikTok refused the video: {reason}", status=None, write=False
                )
            if (
                upload is not None
                and state == "PROCESSING_UPLOAD"
                and not resent
                and int(status.get("uploaded_bytes") or 0) < len(upload[1])
            ):
                url, data, mime, (first, last) = upload
                # The last chunk never arrived: sending it again cannot post twice.
                resent = True
                try:
                    await self.put_chunk(url, data, mime, first, last, final=True)
                except NetworkError as exc:
                    raise self.unknown(
                        f"upload of {publish_id} unfinished: {exc.message}", status=exc.status
                    ) from exc
                continue
            if time.monotonic() >= deadline:
                raise self.unknown(f"TikTok is still processing {publish_id} ({state})")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def unknown(self, message: str, *, status: int | None = None) -> NetworkError:
        """An unknown outcome after the last chunk was sent. The retry waits a while first:
        the lookup that precedes it only sees a video once TikTok has finished processing
        it, and looking too early would find nothing and post the video a second time."""
        return NetworkError(
            "unknown_outcome", message, status=status, retry_after=self.processing_wait
        )

    @staticmethod
    def video_url(channel: ChannelRef, video_id: str) -> str:
        return f"https://www.tiktok.com/@{channel.username or channel.external_id}/video/{video_id}"

    async def find_published(
        self, credentials: dict[str, Any], lookup: Lookup
    ) -> Published | None:
        channel, post, since, until = lookup.channel, lookup.post, lookup.since, lookup.until
        if post.reply_to or post.is_dm:
            return None
        cursor: int | None = None
        for _page in range(10):
            body: dict[str, Any] = {"max_count": 20}
            if cursor:
                body["cursor"] = cursor
            data = await self.api(
                credentials,
                "/v2/video/list/",
                body=body,
                params={"fields": "id,title,video_description,create_time"},
            )
            for video in data.get("videos") or []:
                created = datetime.fromtimestamp(int(video.get("create_time") or 0), UTC)
                if created > until:
                    continue
                if created < since:
                    return None  # newest first
                text = video.get("title") or video.get("video_description") or ""
                if text.strip() == post.text.strip():
                    video_id = str(video["id"])
                    return Published(external_id=video_id, url=self.video_url(channel, video_id))
            if not data.get("has_more"):
                return None
            cursor = int(data.get("cursor") or 0)
        return None

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        # A publish id stands in until a post has a public id; it has nothing to report.
        ids = [i for i in external_ids if i.isdigit()]
        fields = ",".join(["id", *TIKTOK_METRICS.values()])
        for start in range(0, len(ids), 20):  # video/query takes at most 20 ids
            data = await self.api(
                credentials,
                "/v2/video/query/",
                params={"fields": fields},
                body={"filters": {"video_ids": ids[start : start + 20]}},
            )
            for video in data.get("videos") or []:
                found[str(video["id"])] = {
                    ours: (theirs, float(video[theirs]))
                    for ours, theirs in TIKTOK_METRICS.items()
                    if isinstance(video.get(theirs), int | float)
                }
        return found

    async def account_numbers(
        self, credentials: dict[str, Any], *, channel: ChannelRef
    ) -> dict[str, tuple[str, float]]:
        # follower_count needs the user.info.stats scope; without it TikTok leaves it out.
        r = await self.call(
            "GET",
            self.url("/v2/user/info/"),
            headers=bearer(credentials),
            params={"fields": "open_id,follower_count"},
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        user = (r.json().get("data") or {}).get("user") or {}
        return followers("follower_count", user.get("follower_count"))

    def refresh_url(self) -> str | None:
        # TikTok rotates the refresh token: the old one is spent now.
        return self.url("/v2/oauth/token/")

    def refresh_request(self, token: str, app: NetworkApp) -> dict[str, Any]:
        form = {"client_key": app.client_id, "client_secret": app.client_secret,
                "grant_type": "refresh_token", "refresh_token": token}
        return {"data": form}

    def kept_on_refresh(self, issued: dict[str, Any], credentials: dict[str, Any]
                        ) -> dict[str, Any]:
        return {"open_id": issued.get("open_id", credentials.get("open_id"))}
