"""YouTube (Data API v3). A video goes up by resumable upload: a POST with the metadata opens an
upload session (its URL comes back in `Location`), then the bytes are PUT to it. The video
exists once the last byte lands. An interrupted PUT is resumed by asking the session how much
it holds (`Content-Range: bytes */N`), which also tells whether the upload already completed;
a doubt that outlives the attempt is settled by reading the channel's uploads playlist before
anything is sent again. Comments arrive by polling `commentThreads`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from services.publisher.adapters.base import (
    Account,
    Adapter,
    ChannelRef,
    Lookup,
    NetworkError,
    Notification,
    Outgoing,
    Published,
    bearer,
    followers,
    retry_after_seconds,
)

TOKEN_URL = "https://oauth2.googleapis.com/token"
# Resumable chunks must be multiples of 256 KiB; smaller files go up in one PUT.
CHUNK = 32 * 256 * 1024
YOUTUBE_METRICS = {"views": "viewCount", "likes": "likeCount", "comments": "commentCount"}
QUOTA = {"quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded"}
BURST = {"rateLimitExceeded", "userRateLimitExceeded"}
MEDIA = {"invalidVideo", "mediaBodyRequired", "invalidFilename"}
PACIFIC = ZoneInfo("America/Los_Angeles")
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")


def until_quota_reset(now: datetime | None = None) -> float:
    """The daily quota resets at midnight Pacific time."""
    now = (now or datetime.now(UTC)).astimezone(PACIFIC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (tomorrow - now).total_seconds())


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class YouTubeAdapter(Adapter):
    network = "youtube"
    token_seconds = 3599
    real_url = "https://www.googleapis.com"
    polls_notifications = True

    def token_url(self) -> str:
        if self.base_url == self.real_url:
            return TOKEN_URL
        return self.base_url + "/token"

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        error = (body.get("error") or {}) if isinstance(body, dict) else {}
        if not isinstance(error, dict):  # the token endpoint: {"error": "invalid_grant"}
            error = {
                "message": str(body.get("error_description") or error),
                "errors": [{"reason": str(error)}],
            }
        reasons = [str(e.get("reason") or "") for e in error.get("errors") or []]
        reason = reasons[0] if reasons else ""
        message = str(error.get("message") or reason or response.reason_phrase)
        detail = f"{reason}: {message}" if reason else message
        status = response.status_code
        if status == 401 or reason in ("authError", "invalid_grant"):
            return NetworkError("auth_expired", detail, status=status)
        if reason in QUOTA:
            wait = retry_after_seconds(response)
            return NetworkError(
                "rate_limited",
                detail,
                status=status,
                retry_after=wait if wait is not None else until_quota_reset(),
            )
        if status == 429 or reason in BURST:
            return NetworkError(
                "rate_limited", detail, status=status, retry_after=retry_after_seconds(response)
            )
        if status >= 500:
            return NetworkError("unknown_outcome" if write else "transient", detail, status=status)
        if reason in MEDIA or "video" in reason.lower() and "notfound" not in reason.lower():
            return NetworkError("media_error", detail, status=status)
        return NetworkError("content_rejected", f"youtube: {detail}", status=status)

    async def get(self, credentials: dict[str, Any], path: str, **params: Any) -> Any:
        r = await self.call("GET", self.url(path), params=params, headers=bearer(credentials))
        if r.status_code != 200:
            raise self.classify(r, write=False)
        return r.json()

    async def verify(self, credentials: dict[str, Any]) -> Account:
        data = await self.get(credentials, "/youtube/v3/channels", part="snippet", mine="true")
        items = data.get("items") or []
        if not items:
            raise NetworkError("content_rejected", "this Google account has no YouTube channel")
        channel = items[0]
        snippet = channel.get("snippet") or {}
        return Account(
            external_id=str(channel["id"]),
            name=snippet.get("title") or channel["id"],
            username=snippet.get("customUrl"),
        )

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        if post.is_dm:
            raise NetworkError("content_rejected", "YouTube has no direct messages")
        if post.reply_to:
            return await self.comment(credentials, channel=channel, post=post)
        if len(post.media) != 1 or post.media[0].get("kind") != "video":
            raise NetworkError("media_error", "a YouTube post is exactly one video")
        title = str(post.options.get("title") or "").strip()
        if not title:
            raise NetworkError("content_rejected", "a YouTube video needs a title")
        data, mime = await self.fetch_media(post.media[0])
        snippet: dict[str, Any] = {
            "title": title,
            "description": post.text,
            "categoryId": str(post.options.get("category_id") or "22"),
        }
        if post.options.get("tags"):
            snippet["tags"] = [str(t) for t in post.options["tags"]]
        status: dict[str, Any] = {
            "privacyStatus": str(post.options.get("privacy_status") or "public"),
            "selfDeclaredMadeForKids": bool(post.options.get("made_for_kids", False)),
        }
        r = await self.call(
            "POST",
            self.url("/upload/youtube/v3/videos"),
            params={"uploadType": "resumable", "part": "snippet,status"},
            json={"snippet": snippet, "status": status},
            headers={
                **bearer(credentials),
                "X-Upload-Content-Length": str(len(data)),
                "X-Upload-Content-Type": mime,
            },
        )
        if r.status_code != 200 or not r.headers.get("location"):
            raise self.classify(r, write=False)
        session = self.upload_target(r.headers["location"])
        video = await self.upload(credentials, session, data, mime)
        video_id = str(video["id"])
        return Published(external_id=video_id, url=f"https://www.youtube.com/watch?v={video_id}")

    async def edit(
        self, credentials: dict[str, Any], external_id: str, changes: dict[str, str]
    ) -> None:
        """`videos.update` with part=snippet. The snippet is replaced as a whole (a field left
        out is cleared, and categoryId is required), so it is read first and sent back with
        the changes."""
        data = await self.get(credentials, "/youtube/v3/videos", part="snippet", id=external_id)
        items = data.get("items") or []
        if not items:
            raise NetworkError("content_rejected", f"youtube: video {external_id} not found",
                               status=404)
        old = items[0].get("snippet") or {}
        snippet = {k: old[k] for k in ("title", "description", "categoryId", "tags",
                                       "defaultLanguage") if k in old}
        snippet.update({k: changes[k] for k in ("title", "description") if k in changes})
        await self.change("PUT", self.url("/youtube/v3/videos"), params={"part": "snippet"},
                          json={"id": external_id, "snippet": snippet},
                          headers=bearer(credentials))

    async def delete(self, credentials: dict[str, Any], external_id: str) -> None:
        await self.change("DELETE", self.url("/youtube/v3/videos"), params={"id": external_id},
                          gone_ok=True, headers=bearer(credentials))

    def upload_target(self, url: str) -> str:
        # The sandbox names its public address in session URLs; keep talking where we are.
        if self.base_url != self.real_url and "/upload/" in url:
            return self.base_url + "/upload/" + url.split("/upload/", 1)[1]
        return url

    async def upload(
        self, credentials: dict[str, Any], session: str, data: bytes, mime: str
    ) -> dict[str, Any]:
        """PUTs the bytes from wherever the session stands; after a broken PUT asks the
        session what it holds and goes on from there (a few times), so the video is created
        once. Returns the video resource."""
        offset = 0
        recoveries = 0
        while True:
            end = len(data) if len(data) <= CHUNK else min(len(data), offset + CHUNK)
            headers = {**bearer(credentials), "Content-Type": mime}
            if offset or end < len(data):
                headers["Content-Range"] = f"bytes {offset}-{end - 1}/{len(data)}"
            try:
                r = await self.call(
                    "PUT", session, write=True, content=data[offset:end], headers=headers
                )
                if r.status_code >= 500:
                    raise self.classify(r, write=True)
            except NetworkError as exc:
                if exc.error_class not in ("unknown_outcome", "transient") or recoveries >= 3:
                    raise
                recoveries += 1
                answer = await self.session_status(credentials, session, len(data))
                if isinstance(answer, dict):
                    return answer
                offset = answer
                continue
            if r.status_code in (200, 201):
                video: dict[str, Any] = r.json()
                return video
            if r.status_code == 308:
                offset = self.received(r)
                continue
            if r.status_code == 404:
                raise NetworkError(
                    "transient", "the upload session expired; starting again", status=404
                )
            raise self.classify(r, write=False)

    @staticmethod
    def received(response: httpx.Response) -> int:
        """Bytes the session holds, from a 308's `Range: bytes=0-N` (none when absent)."""
        value = response.headers.get("range", "")
        if "-" not in value:
            return 0
        return int(value.rsplit("-", 1)[1]) + 1

    async def session_status(
        self, credentials: dict[str, Any], session: str, total: int
    ) -> dict[str, Any] | int:
        """The finished video, or how many bytes the session holds. Raises unknown_outcome
        when the session cannot be asked: the upload may have completed."""
        try:
            r = await self.call(
                "PUT",
                session,
                content=b"",
                headers={**bearer(credentials), "Content-Range": f"bytes */{total}"},
            )
        except NetworkError as exc:
            raise NetworkError(
                "unknown_outcome", f"upload state unknown: {exc.message}", status=exc.status
            ) from exc
        if r.status_code in (200, 201):
            video: dict[str, Any] = r.json()
            return video
        if r.status_code == 308:
            return self.received(r)
        error = self.classify(r, write=True)
        raise NetworkError(
            "unknown_outcome", f"upload state unknown: {error.message}", status=r.status_code
        )

    async def comment(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        """On a video (a first comment: commentThreads.insert) or under a comment
        (comments.insert; YouTube threads are one level deep, so a reply to a reply goes
        under its top-level comment)."""
        target = str(post.reply_to)
        video_id = str(post.options.get("root_id") or target)
        # Without a root, the id's shape tells: video ids are 11 characters, comments longer.
        if target == video_id and (post.options.get("root_id") or VIDEO_ID.fullmatch(target)):
            r = await self.call(
                "POST",
                self.url("/youtube/v3/commentThreads"),
                write=True,
                params={"part": "snippet"},
                headers=bearer(credentials),
                json={
                    "snippet": {
                        "channelId": channel.external_id,
                        "videoId": video_id,
                        "topLevelComment": {"snippet": {"textOriginal": post.text}},
                    }
                },
            )
        else:
            r = await self.call(
                "POST",
                self.url("/youtube/v3/comments"),
                write=True,
                params={"part": "snippet"},
                headers=bearer(credentials),
                json={"snippet": {"parentId": target.split(".", 1)[0], "textOriginal": post.text}},
            )
        if r.status_code not in (200, 201):
            raise self.classify(r, write=True)
        comment_id = str(r.json()["id"])
        return Published(external_id=comment_id, url=self.comment_url(video_id, comment_id))

    @staticmethod
    def comment_url(video_id: str, comment_id: str) -> str:
        return f"https://www.youtube.com/watch?v={video_id}&lc={comment_id}"

    async def recent_posts(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> AsyncIterator[dict[str, Any]]:
        """The channel's uploads playlist, newest first."""
        data = await self.get(
            credentials, "/youtube/v3/channels", part="contentDetails", mine="true"
        )
        items = data.get("items") or []
        if not items:
            raise NetworkError("transient", "YouTube did not show the channel's uploads")
        playlist = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]
        params: dict[str, Any] = {"part": "snippet", "playlistId": playlist, "maxResults": 50}
        for _page in range(4):
            page = await self.get(credentials, "/youtube/v3/playlistItems", **params)
            for item in page.get("items") or []:
                yield item.get("snippet") or {}
            if not page.get("nextPageToken"):
                return
            params["pageToken"] = page["nextPageToken"]

    def created_at(self, item: dict[str, Any]) -> datetime | None:
        return when(item["publishedAt"])

    def same_post(self, item: dict[str, Any], post: Outgoing) -> Published | None:
        title = str(post.options.get("title") or "").strip()
        if item.get("title") != title or (item.get("description") or "") != post.text:
            return None
        video_id = str(item["resourceId"]["videoId"])
        return Published(external_id=video_id, url=f"https://www.youtube.com/watch?v={video_id}")

    async def find_comment(
        self, credentials: dict[str, Any], lookup: Lookup
    ) -> Published | None:
        channel, post, since, until = lookup.channel, lookup.post, lookup.since, lookup.until
        target = str(post.reply_to)
        video_id = str(post.options.get("root_id") or target)
        data = await self.get(
            credentials,
            "/youtube/v3/commentThreads",
            part="snippet,replies",
            videoId=video_id,
            maxResults=100,
            order="time",
        )
        for thread in data.get("items") or []:
            comments = [
                thread["snippet"]["topLevelComment"],
                *((thread.get("replies") or {}).get("comments") or []),
            ]
            for comment in comments:
                snippet = comment.get("snippet") or {}
                author = (snippet.get("authorChannelId") or {}).get("value")
                created = when(snippet.get("publishedAt") or "1970-01-01T00:00:00Z")
                if (
                    author == channel.external_id
                    and snippet.get("textOriginal") == post.text
                    and since <= created <= until
                ):
                    return Published(
                        external_id=str(comment["id"]),
                        url=self.comment_url(video_id, str(comment["id"])),
                    )
        return None

    async def account_numbers(
        self, credentials: dict[str, Any], *, channel: ChannelRef
    ) -> dict[str, tuple[str, float]]:
        data = await self.get(credentials, "/youtube/v3/channels", part="statistics", mine="true")
        items = data.get("items") or []
        stats = (items[0].get("statistics") or {}) if items else {}
        # A channel that hides its subscriber count reports none: absent, not 0.
        if stats.get("hiddenSubscriberCount"):
            return {}
        return followers("subscriberCount", stats.get("subscriberCount"))

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        for start in range(0, len(external_ids), 50):  # videos.list takes at most 50 ids
            data = await self.get(
                credentials,
                "/youtube/v3/videos",
                part="statistics",
                id=",".join(external_ids[start : start + 50]),
            )
            for video in data.get("items") or []:
                stats = video.get("statistics") or {}
                # Counts come as strings; a hidden count (likes can be) is simply absent.
                found[str(video["id"])] = {
                    ours: (theirs, float(stats[theirs]))
                    for ours, theirs in YOUTUBE_METRICS.items()
                    if str(stats.get(theirs, "")).isdigit()
                }
        return found

    async def notifications(
        self, credentials: dict[str, Any], *, channel: ChannelRef, cursor: str | None
    ) -> tuple[list[Notification], str | None]:
        """Comments on the channel's videos, newest threads first. `publishedAt` has whole
        seconds only, so the cursor is the newest one already seen together with the ids seen
        at that very second; paging stops at a page with nothing newer."""
        seen_at, _, ids = (cursor or "").partition(" ")
        seen_ids = set(ids.split(",")) if ids else set()
        newest, newest_ids = seen_at, set(seen_ids)
        found: dict[str, Notification] = {}
        params: dict[str, Any] = {
            "part": "snippet,replies",
            "maxResults": 100,
            "order": "time",
            "allThreadsRelatedToChannelId": channel.external_id,
        }
        for _page in range(5):
            data = await self.get(credentials, "/youtube/v3/commentThreads", **params)
            fresh = False
            for thread in data.get("items") or []:
                video_id = thread["snippet"].get("videoId")
                comments = [
                    thread["snippet"]["topLevelComment"],
                    *((thread.get("replies") or {}).get("comments") or []),
                ]
                for comment in comments:
                    snippet = comment.get("snippet") or {}
                    published = str(snippet.get("publishedAt") or "")
                    comment_id = str(comment["id"])
                    if (
                        not published
                        or published < seen_at
                        or (published == seen_at and comment_id in seen_ids)
                    ):
                        continue
                    fresh = True
                    if published > newest:
                        newest, newest_ids = published, set()
                    if published == newest:
                        newest_ids.add(comment_id)
                    author = (snippet.get("authorChannelId") or {}).get("value") or ""
                    if author == channel.external_id:
                        continue  # the channel's own comments and replies
                    found[comment_id] = self.normalise(comment, video_id)
            token = data.get("nextPageToken")
            if not fresh or not token:
                break
            params["pageToken"] = token
        # Threads come newest first: reversed, a stable sort keeps same-second ones in order.
        items = list(reversed(found.values()))
        items.sort(key=lambda n: n.created_at)
        if not newest:
            return items, None
        return items, f"{newest} {','.join(sorted(newest_ids))}"

    @staticmethod
    def normalise(comment: dict[str, Any], video_id: str | None) -> Notification:
        snippet = comment["snippet"]
        return Notification(
            external_id=str(comment["id"]),
            kind="comment",
            text=str(snippet.get("textOriginal") or snippet.get("textDisplay") or ""),
            author_id=str((snippet.get("authorChannelId") or {}).get("value") or ""),
            author_name=snippet.get("authorDisplayName"),
            created_at=when(snippet["publishedAt"]),
            parent_external_id=snippet.get("parentId") or video_id,
            post_external_id=video_id,
            raw={"video_id": video_id, "parent_id": snippet.get("parentId")},
        )

    def refresh_url(self) -> str | None:
        # A 400 invalid_grant: revoked, or a testing app's refresh token past its 7 days.
        # Google keeps the refresh token; it sends a new one only on a new consent.
        return self.token_url()
