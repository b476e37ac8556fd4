"""X (API v2). No idempotency key exists, so an unknown outcome is settled by looking the
post up on the account's timeline before anything is sent again."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

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
    poll_results,
    retry_after_seconds,
)
from services.publisher.settings import NetworkApp

URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
DUPLICATE = "duplicate content"
CHUNK_BYTES = 1024 * 1024
X_METRICS = {
    "views": "impression_count",
    "likes": "like_count",
    "replies": "reply_count",
    "shares": "retweet_count",
    "quotes": "quote_count",
    "bookmarks": "bookmark_count",
}


def comparable(text: str) -> str:
    # X rewrites links to t.co and may trim whitespace, so compare what it cannot change.
    text = URL_RE.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def replied_to(tweet: dict[str, Any]) -> str | None:
    """The tweet this one answers (a thread part answers the part before it)."""
    for ref in tweet.get("referenced_tweets") or []:
        if ref.get("type") == "replied_to":
            return str(ref["id"])
    return None


class XAdapter(Adapter):
    network = "x"
    token_seconds = 7200
    real_url = "https://api.x.com"
    # Mentions can be read (`/2/users/{id}/mentions`): the inbox polls them while the Account
    # Activity subscription is down.
    polls_notifications = True

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        detail = ""
        if isinstance(body, dict):
            errors = body.get("errors") or []
            detail = str(
                body.get("detail")
                or (errors[0].get("message") if errors and isinstance(errors[0], dict) else "")
                or body.get("title")
                or ""
            )
        detail = detail or response.reason_phrase
        status = response.status_code
        if status == 401:
            return NetworkError("auth_expired", detail, status=status)
        if status == 429:
            return NetworkError(
                "rate_limited", detail, status=status, retry_after=retry_after_seconds(response)
            )
        if status == 403 and DUPLICATE in detail:
            return NetworkError("duplicate", detail, status=status)
        if status >= 500:
            # A 5xx on a create may come after X stored the post.
            kind = "unknown_outcome" if write else "transient"
            return NetworkError(kind, detail, status=status)
        if "media" in detail.lower():
            return NetworkError("media_error", detail, status=status)
        return NetworkError("content_rejected", detail, status=status)

    async def verify(self, credentials: dict[str, Any]) -> Account:
        r = await self.call("GET", self.url("/2/users/me"), headers=bearer(credentials))
        if r.status_code != 200:
            raise self.classify(r, write=False)
        data = r.json()["data"]
        return Account(external_id=str(data["id"]), name=data["name"], username=data["username"])

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        if post.is_dm:
            return await self.direct_message(credentials, post=post)
        body: dict[str, Any] = {"text": post.text}
        if post.reply_to:
            body["reply"] = {"in_reply_to_tweet_id": post.reply_to}
        if post.poll:
            body["poll"] = {
                "options": list(post.poll["options"]),
                "duration_minutes": int(post.poll["duration_minutes"]),
            }
        if post.media:
            if len(post.media) > 4:
                raise NetworkError("media_error", "X takes at most 4 images or one video")
            body["media"] = {"media_ids": [await self.upload(credentials, m) for m in post.media]}
        r = await self.call(
            "POST", self.url("/2/tweets"), write=True, json=body, headers=bearer(credentials)
        )
        if r.status_code not in (200, 201):
            raise self.classify(r, write=True)
        tweet_id = str(r.json()["data"]["id"])
        return Published(external_id=tweet_id, url=self.post_url(channel, tweet_id))

    async def delete(self, credentials: dict[str, Any], external_id: str) -> None:
        r = await self.change("DELETE", self.url(f"/2/tweets/{external_id}"), gone_ok=True,
                              headers=bearer(credentials))
        # A tweet X cannot find comes back as 200 with a "resource-not-found" error: gone.
        if r is not None and not (r.json().get("data") or {}).get("deleted"):
            errors = r.json().get("errors") or [{}]
            if "resource-not-found" not in str(errors[0].get("type", "")):
                raise NetworkError("content_rejected", str(errors[0].get("detail") or r.text))

    async def direct_message(self, credentials: dict[str, Any], *, post: Outgoing) -> Published:
        recipient = post.options.get("recipient_id")
        if not recipient:
            raise NetworkError("content_rejected", "a direct message needs a recipient")
        r = await self.call(
            "POST", self.url(f"/2/dm_conversations/with/{recipient}/messages"), write=True,
            json={"text": post.text}, headers=bearer(credentials),
        )
        if r.status_code not in (200, 201):
            raise self.classify(r, write=True)
        return Published(external_id=str(r.json()["data"]["dm_event_id"]), url=None)

    async def upload(self, credentials: dict[str, Any], item: dict[str, Any]) -> str:
        """Chunked upload (initialize, append, finalize), then polls until X has processed
        a video. Returns the media id."""
        data, mime = await self.fetch_media(item)
        kind = item.get("kind", "image")
        category = {"video": "tweet_video", "gif": "tweet_gif"}.get(kind, "tweet_image")
        auth = bearer(credentials)
        r = await self.call("POST", self.url("/2/media/upload/initialize"), headers=auth,
                            json={"media_type": mime, "total_bytes": len(data),
                                  "media_category": category})
        if r.status_code != 200:
            raise self.classify(r, write=False)
        media_id = str(r.json()["data"]["id"])
        for index, start in enumerate(range(0, len(data), CHUNK_BYTES)):
            r = await self.call(
                "POST", self.url(f"/2/media/upload/{media_id}/append"), headers=auth,
                data={"segment_index": str(index)},
                files={"media": ("chunk", data[start : start + CHUNK_BYTES],
                                 "application/octet-stream")},
            )
            if r.status_code not in (200, 204):
                raise self.classify(r, write=False)
        r = await self.call("POST", self.url(f"/2/media/upload/{media_id}/finalize"),
                            headers=auth)
        if r.status_code != 200:
            raise self.classify(r, write=False)
        info = r.json()["data"].get("processing_info")
        for _ in range(60):
            if not info or info.get("state") == "succeeded":
                break
            if info.get("state") == "failed":
                raise NetworkError("media_error", f"X could not process the media: {info}")
            await asyncio.sleep(min(5.0, float(info.get("check_after_secs", 1))))
            r = await self.call("GET", self.url("/2/media/upload"), headers=auth,
                                params={"media_id": media_id, "command": "STATUS"})
            if r.status_code != 200:
                raise self.classify(r, write=False)
            info = r.json()["data"].get("processing_info")
        else:
            raise NetworkError("transient", "X is still processing the media")
        if item.get("alt"):
            r = await self.call("POST", self.url("/2/media/metadata"), headers=auth,
                                json={"id": media_id,
                                      "metadata": {"alt_text": {"text": item["alt"]}}})
            if r.status_code != 200:
                raise self.classify(r, write=False)
        return media_id

    def post_url(self, channel: ChannelRef, tweet_id: str) -> str:
        return f"https://x.com/{channel.username or 'i'}/status/{tweet_id}"

    async def find_published(
        self, credentials: dict[str, Any], lookup: Lookup
    ) -> Published | None:
        channel, post, since, until = lookup.channel, lookup.post, lookup.since, lookup.until
        if post.is_dm:
            return await self.find_message(credentials, post=post, since=since, until=until)
        wanted = comparable(post.text)
        params: dict[str, Any] = {
            "max_results": 100,
            "tweet.fields": "created_at,referenced_tweets",
            "start_time": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        path = f"/2/users/{channel.external_id}/tweets"
        for _page in range(5):
            r = await self.call("GET", self.url(path), params=params, headers=bearer(credentials))
            if r.status_code != 200:
                raise self.classify(r, write=False)
            page = r.json()
            for tweet in page.get("data") or []:
                created = datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))
                if (
                    since <= created <= until
                    and comparable(tweet["text"]) == wanted
                    and replied_to(tweet) == post.reply_to
                ):
                    return Published(
                        external_id=str(tweet["id"]), url=self.post_url(channel, tweet["id"])
                    )
            token = (page.get("meta") or {}).get("next_token")
            if not token:
                return None
            params["pagination_token"] = token
        return None

    async def find_message(self, credentials: dict[str, Any], *, post: Outgoing,
                           since: datetime, until: datetime) -> Published | None:
        r = await self.call("GET", self.url("/2/dm_events"), headers=bearer(credentials),
                            params={"dm_event.fields": "created_at,sender_id,text"})
        if r.status_code != 200:
            raise self.classify(r, write=False)
        for event in r.json().get("data") or []:
            created = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
            if since <= created <= until and event.get("text") == post.text:
                return Published(external_id=str(event["id"]), url=None)
        return None

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        for start in range(0, len(external_ids), 100):  # X takes at most 100 ids a call
            batch = external_ids[start : start + 100]
            r = await self.call(
                "GET", self.url("/2/tweets"),
                params={
                    "ids": ",".join(batch),
                    "tweet.fields": "public_metrics,attachments",
                    "expansions": "attachments.poll_ids",
                    "poll.fields": "options,voting_status",
                },
                headers=bearer(credentials),
            )
            if r.status_code != 200:
                raise self.classify(r, write=False)
            body = r.json()
            held = {p["id"]: p for p in (body.get("includes") or {}).get("polls") or []}
            for tweet in body.get("data") or []:
                counts = tweet.get("public_metrics") or {}
                found[str(tweet["id"])] = {
                    ours: (theirs, counts[theirs])
                    for ours, theirs in X_METRICS.items()
                    if counts.get(theirs) is not None
                }
                for poll_id in (tweet.get("attachments") or {}).get("poll_ids") or []:
                    if poll_id in held:
                        options = sorted(held[poll_id]["options"], key=lambda o: o["position"])
                        votes = [o.get("votes") for o in options]
                        found[str(tweet["id"])].update(
                            poll_results(votes, network_metric="poll.options.votes")
                        )
        return found

    async def account_numbers(
        self, credentials: dict[str, Any], *, channel: ChannelRef
    ) -> dict[str, tuple[str, float]]:
        r = await self.call(
            "GET",
            self.url("/2/users/me"),
            params={"user.fields": "public_metrics"},
            headers=bearer(credentials),
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        counts = r.json()["data"].get("public_metrics") or {}
        return followers("followers_count", counts.get("followers_count"))

    async def notifications(
        self, credentials: dict[str, Any], *, channel: ChannelRef, cursor: str | None
    ) -> tuple[list[Notification], str | None]:
        """Mentions and replies since `cursor` (`since_id`), oldest first. X pushes these by
        Account Activity; they are read here only while that subscription is down."""
        params: dict[str, Any] = {
            "max_results": 100,
            "tweet.fields": "created_at,author_id,conversation_id,in_reply_to_user_id,"
            "referenced_tweets",
            "expansions": "author_id",
        }
        if cursor:
            params["since_id"] = cursor
        found: list[dict[str, Any]] = []
        for _page in range(10):
            r = await self.call("GET", self.url(f"/2/users/{channel.external_id}/mentions"),
                                params=params, headers=bearer(credentials))
            if r.status_code != 200:
                raise self.classify(r, write=False)
            body = r.json()
            found += body.get("data") or []
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                break
            params["pagination_token"] = token
        found.sort(key=lambda t: int(t["id"]))
        items = [self.notification(t) for t in found]
        return items, (found[-1]["id"] if found else cursor)

    @staticmethod
    def notification(tweet: dict[str, Any]) -> Notification:
        replied = next((r["id"] for r in tweet.get("referenced_tweets") or []
                        if r.get("type") == "replied_to"), None)
        created = tweet.get("created_at")
        return Notification(
            external_id=str(tweet["id"]),
            kind="comment" if replied else "mention",
            text=str(tweet.get("text") or ""),
            author_id=str(tweet.get("author_id") or ""),
            author_name=None,
            created_at=(datetime.fromisoformat(created.replace("Z", "+00:00")) if created
                        else datetime.now(UTC)),
            parent_external_id=replied,
            post_external_id=tweet.get("conversation_id") if replied else None,
            raw=tweet,
        )

    def refresh_url(self) -> str | None:
        return self.url("/2/oauth2/token")

    def refresh_request(self, token: str, app: NetworkApp) -> dict[str, Any]:
        # A confidential client: its id and secret as Basic auth, its id in the form too.
        form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": app.client_id}
        return {"data": form, "auth": (app.client_id, app.client_secret)}

    def kept_on_refresh(self, issued: dict[str, Any], credentials: dict[str, Any]
                        ) -> dict[str, Any]:
        return {"scope": issued.get("scope", credentials.get("scope"))}
