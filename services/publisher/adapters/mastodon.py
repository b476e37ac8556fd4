"""Mastodon. The instance honours `Idempotency-Key` for an hour, so after an unknown outcome the
same request is simply sent again with the same key (the job id)."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from services.publisher.adapters.base import (
    Account,
    Adapter,
    ChannelRef,
    NetworkError,
    Notification,
    Outgoing,
    Published,
    bearer,
    followers,
    poll_results,
    retry_after_seconds,
)
from shared.errors import ValidationFailed
from shared.outbound import OutboundRefused

TAG = re.compile(r"<[^>]+>")


def html_to_text(content: str) -> str:
    content = re.sub(r"<br\s*/?>|</p><p>", "\n", content)
    return html.unescape(TAG.sub("", content)).strip()


MASTODON_METRICS = {
    "likes": "favourites_count",
    "replies": "replies_count",
    "shares": "reblogs_count",
}


def kept_on_edit(status: dict[str, Any]) -> dict[str, Any]:
    """What of a status an edit must send again to keep it."""
    body: dict[str, Any] = {
        "spoiler_text": status.get("spoiler_text") or "",
        "sensitive": bool(status.get("sensitive")),
        "media_ids": [str(m["id"]) for m in status.get("media_attachments") or []],
    }
    if status.get("language"):
        body["language"] = status["language"]
    poll = status.get("poll")
    if poll:
        left = 300.0
        if poll.get("expires_at"):
            ends = datetime.fromisoformat(str(poll["expires_at"]).replace("Z", "+00:00"))
            left = max(left, (ends - datetime.now(UTC)).total_seconds())
        body["poll"] = {
            "options": [o["title"] for o in poll.get("options") or []],
            "expires_in": int(left),
            "multiple": bool(poll.get("multiple")),
        }
    return body


class MastodonAdapter(Adapter):
    network = "mastodon"
    real_url = "https://mastodon.social"
    idempotent = True
    polls_notifications = True
    # The instance comes with the credentials: refused, the channel must be connected again.
    refused_host_error = "auth_expired"

    def url(self, path: str, credentials: dict[str, Any] | None = None) -> str:
        # Each account lives on its own instance; the sandbox stands in for all of them.
        instance = (credentials or {}).get("instance_url")
        if instance and self.base_url == self.real_url:
            return str(instance).rstrip("/") + path
        return self.base_url + path

    async def check_credentials(self, credentials: dict[str, Any]) -> None:
        """The instance is whatever the client says it is: it must be a public https host,
        or every call made with these credentials would go where the client pointed."""
        instance = credentials.get("instance_url")
        if instance is None:
            return
        if not isinstance(instance, str) or self.outbound is None:
            raise ValidationFailed(
                "instance_url must be the https URL of a Mastodon instance.",
                field="credentials.instance_url",
            )
        try:
            await self.outbound.policy.vet(instance)
        except OutboundRefused as exc:
            raise ValidationFailed(
                f"instance_url is refused: {exc.reason}", field="credentials.instance_url"
            ) from exc

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        try:
            detail = str(response.json().get("error") or response.reason_phrase)
        except (ValueError, AttributeError):
            detail = response.reason_phrase
        status = response.status_code
        if status == 401:
            return NetworkError("auth_expired", detail, status=status)
        if status == 429:
            return NetworkError(
                "rate_limited", detail, status=status, retry_after=retry_after_seconds(response)
            )
        if status >= 500:
            return NetworkError("unknown_outcome" if write else "transient", detail, status=status)
        if "media" in detail.lower() or "files" in detail.lower():
            return NetworkError("media_error", detail, status=status)
        return NetworkError("content_rejected", detail, status=status)

    async def verify(self, credentials: dict[str, Any]) -> Account:
        r = await self.call(
            "GET",
            self.url("/api/v1/accounts/verify_credentials", credentials),
            headers=bearer(credentials),
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        data = r.json()
        return Account(
            external_id=str(data["id"]),
            name=data.get("display_name") or data["username"],
            username=data["username"],
        )

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        # A direct message is answered with a direct status in its thread.
        visibility = "direct" if post.is_dm else post.options.get("visibility", "public")
        body: dict[str, Any] = {"status": post.text, "visibility": visibility}
        if post.media:
            if len(post.media) > 4:
                raise NetworkError("media_error", "Mastodon takes at most 4 attachments")
            body["media_ids"] = [await self.upload(credentials, m) for m in post.media]
        if post.options.get("spoiler_text"):
            body["spoiler_text"] = post.options["spoiler_text"]
        if post.options.get("in_reply_to"):
            body["in_reply_to_id"] = str(post.options["in_reply_to"])
        if post.poll:
            body["poll"] = {
                "options": list(post.poll["options"]),
                "expires_in": int(post.poll["duration_minutes"]) * 60,
                "multiple": bool(post.poll.get("multiple", False)),
            }
        r = await self.call(
            "POST",
            self.url("/api/v1/statuses", credentials),
            write=True,
            json=body,
            headers={**bearer(credentials), "Idempotency-Key": post.key},
        )
        if r.status_code != 200:
            raise self.classify(r, write=True)
        status = r.json()
        return Published(external_id=str(status["id"]), url=status.get("url"))

    async def edit(
        self, credentials: dict[str, Any], external_id: str, changes: dict[str, str]
    ) -> None:
        """`PUT /api/v1/statuses/:id`. An edit replaces the whole status: what it does not
        name again (attachments, content warning, poll) is dropped, so the rest is read back
        from the status and sent as it was."""
        url = self.url(f"/api/v1/statuses/{external_id}", credentials)
        r = await self.call("GET", url, headers=bearer(credentials))
        if r.status_code != 200:
            raise self.classify(r, write=False)
        await self.change("PUT", url, json={**kept_on_edit(r.json()), "status": changes["text"]},
                          headers=bearer(credentials))

    async def delete(self, credentials: dict[str, Any], external_id: str) -> None:
        await self.change("DELETE", self.url(f"/api/v1/statuses/{external_id}", credentials),
                          gone_ok=True, headers=bearer(credentials))

    async def upload(self, credentials: dict[str, Any], item: dict[str, Any]) -> str:
        """`POST /api/v2/media`; a 202 means still processing, polled until it has a URL."""
        data, mime = await self.fetch_media(item)
        ext = mime.split("/")[-1]
        r = await self.call(
            "POST", self.url("/api/v2/media", credentials), headers=bearer(credentials),
            data={"description": item.get("alt") or ""},
            files={"file": (f"upload.{ext}", data, mime)},
        )
        if r.status_code not in (200, 202):
            raise self.classify(r, write=False)
        media_id = str(r.json()["id"])
        for _ in range(60):
            if r.status_code == 200:
                return media_id
            await asyncio.sleep(0.5)
            r = await self.call("GET", self.url(f"/api/v1/media/{media_id}", credentials),
                                headers=bearer(credentials))
            if r.status_code not in (200, 206):
                raise self.classify(r, write=False)
        raise NetworkError("transient", "Mastodon is still processing the media")

    async def notifications(
        self, credentials: dict[str, Any], *, channel: ChannelRef, cursor: str | None
    ) -> tuple[list[Notification], str | None]:
        """Mentions (replies and direct messages are mentions too). With a cursor, pages
        forward from it with `min_id` along the Link header's `prev`; without one, reads the
        newest pages back along `next`. The cursor kept is the newest notification id."""
        url: str | None = self.url("/api/v1/notifications", credentials)
        params: dict[str, Any] | None = {"types[]": "mention", "limit": 80}
        if cursor:
            params["min_id"] = cursor
        found: dict[str, dict[str, Any]] = {}
        for _page in range(20):
            if url is None:
                break
            r = await self.call("GET", url, params=params, headers=bearer(credentials))
            if r.status_code != 200:
                raise self.classify(r, write=False)
            page = r.json()
            if not page:
                break
            for n in page:
                found[str(n["id"])] = n
            links = r.links
            url = (links.get("prev" if cursor else "next") or {}).get("url")
            params = None
            if url and self.base_url != self.real_url and self.base_url not in url:
                # The sandbox names its public address in links; keep talking where we are.
                url = self.base_url + "/api/v1/notifications?" + url.split("?", 1)[1]
        ordered = sorted(found.values(), key=lambda n: int(n["id"]))
        items = [item for n in ordered if (item := self.normalise(n)) is not None]
        newest = str(ordered[-1]["id"]) if ordered else cursor
        return items, newest

    @staticmethod
    def normalise(n: dict[str, Any]) -> Notification | None:
        status = n.get("status")
        if not status:
            return None
        account = n.get("account") or status.get("account") or {}
        kind: Literal["comment", "mention", "dm"] = "mention"
        if status.get("visibility") == "direct":
            kind = "dm"
        elif status.get("in_reply_to_id"):
            kind = "comment"
        return Notification(
            external_id=str(status["id"]),
            kind=kind,
            text=html_to_text(status.get("content") or ""),
            author_id=str(account.get("id", "")),
            author_name=account.get("display_name") or account.get("acct"),
            created_at=datetime.fromisoformat(status["created_at"].replace("Z", "+00:00")),
            parent_external_id=status.get("in_reply_to_id"),
            post_external_id=status.get("in_reply_to_id"),
            raw={"notification_id": n["id"], "acct": account.get("acct"),
                 "visibility": status.get("visibility")},
        )

    async def account_numbers(
        self, credentials: dict[str, Any], *, channel: ChannelRef
    ) -> dict[str, tuple[str, float]]:
        r = await self.call(
            "GET",
            self.url("/api/v1/accounts/verify_credentials", credentials),
            headers=bearer(credentials),
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        return followers("followers_count", r.json().get("followers_count"))

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        for status_id in external_ids:
            r = await self.call(
                "GET", self.url(f"/api/v1/statuses/{status_id}", credentials),
                headers=bearer(credentials),
            )
            if r.status_code == 404:
                continue  # deleted on the network: nothing to report
            if r.status_code != 200:
                raise self.classify(r, write=False)
            status = r.json()
            # Mastodon has no impressions; only what it counts is reported.
            found[status_id] = {
                ours: (theirs, status[theirs])
                for ours, theirs in MASTODON_METRICS.items()
                if status.get(theirs) is not None
            }
            if status.get("poll"):
                votes = [o.get("votes_count") for o in status["poll"].get("options") or []]
                results = poll_results(votes, network_metric="poll.options.votes_count")
                found[status_id].update(results)
        return found
