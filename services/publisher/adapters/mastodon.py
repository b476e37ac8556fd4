"""Mastodon. The instance honours `Idempotency-Key` for an hour, so after an unknown outcome the
same request is simply sent again with the same key (the job id)."""

from __future__ import annotations

from typing import Any

import httpx

from services.publisher.adapters.base import (
    Account,
    Adapter,
    ChannelRef,
    NetworkError,
    Outgoing,
    Published,
    bearer,
    retry_after_seconds,
)

MASTODON_METRICS = {
    "likes": "favourites_count",
    "replies": "replies_count",
    "shares": "reblogs_count",
}


class MastodonAdapter(Adapter):
    network = "mastodon"
    real_url = "https://mastodon.social"
    idempotent = True

    def url(self, path: str, credentials: dict[str, Any] | None = None) -> str:
        # Each account lives on its own instance; the sandbox stands in for all of them.
        instance = (credentials or {}).get("instance_url")
        if instance and self.base_url == self.real_url:
            return str(instance).rstrip("/") + path
        return self.base_url + path

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
        if post.media:
            raise NetworkError(
                "media_error", "media on Mastodon is not supported by this publisher yet"
            )
        body: dict[str, Any] = {
            "status": post.text,
            "visibility": post.options.get("visibility", "public"),
        }
        if post.options.get("spoiler_text"):
            body["spoiler_text"] = post.options["spoiler_text"]
        if post.options.get("in_reply_to"):
            body["in_reply_to_id"] = str(post.options["in_reply_to"])
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
        return found
