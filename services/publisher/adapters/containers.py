"""The two-step container flow Instagram and Threads share: create a container (the network
fetches the media from its public URL), wait until the container is ready, publish it.

Neither network takes an idempotency key. A container on its own shows nothing to anyone and
expires unpublished after 24 h, so creating one is never an unknown outcome: a failed attempt
simply makes a new one. Only the publish call is, and after it the post is looked up on the
account (`find_published`) before anything is sent again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any, ClassVar

import httpx

from services.publisher.adapters.base import Adapter, ChannelRef, NetworkError
from services.publisher.adapters.facebook import graph_error, graph_gone, graph_time

# How long one attempt waits for a container before giving up (a fresh container is made on
# the next attempt). The publisher's lease must outlast the whole attempt (create, wait,
# publish) or a second replica could publish too, and all an adapter knows of the lease is
# that it is longer than one call's timeout: so at most two timeouts, and 40 s in any case.
CONTAINER_WAIT_SECONDS = 40.0
CONTAINER_WAIT_TIMEOUTS = 2
LONG_LIVED_SECONDS = 5_184_000  # 60 days
FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 5.0
# Meta's own codes for "try again" (server and download hiccups, media not ready yet).
RETRY_CODES = frozenset({-2, -1, 9007})
# The container's media could not be used (size, format, aspect ratio, fetch failed).
MEDIA_SUBCODES = frozenset({2207004, 2207005, 2207009, 2207026, 2207052, 2207083})
DAILY_CAP_SUBCODE = 2207042
SPAM_SUBCODE = 2207051
# A daily cap frees as the oldest post of the last 24 h ages out; Meta does not say when,
# so the job looks again in an hour (the publisher's own budget usually stops it first).
DAILY_CAP_RETRY_SECONDS = 3600.0


def meta_error(network: str, response: httpx.Response, *, write: bool) -> NetworkError:
    """Graph's general classes, sharpened with the content-publishing subcodes."""
    try:
        err = response.json().get("error") or {}
    except (ValueError, AttributeError):
        err = {}
    code, subcode = err.get("code"), err.get("error_subcode")
    message = str(err.get("message") or response.reason_phrase)
    status = response.status_code
    if subcode == DAILY_CAP_SUBCODE:
        return NetworkError(
            "rate_limited",
            f"{network}: {message}",
            status=status,
            retry_after=DAILY_CAP_RETRY_SECONDS,
        )
    if subcode == SPAM_SUBCODE:
        return NetworkError("content_rejected", f"{network}: {message}", status=status)
    if subcode in MEDIA_SUBCODES:
        return NetworkError("media_error", f"{network}: {message}", status=status)
    if code in RETRY_CODES:
        # -1 on a publish is a server error after the request arrived: it may have posted.
        kind = "unknown_outcome" if write and code == -1 else "transient"
        return NetworkError(kind, f"{network}: {message}", status=status)
    return graph_error(network, response, write=write)


class ContainerAdapter(Adapter):
    """Graph calls and the container life cycle; subclasses say how their network names
    the pieces."""

    graph_version: ClassVar[str]
    # The container field that tells its state (FINISHED, IN_PROGRESS, ERROR, EXPIRED,
    # PUBLISHED), and the field that explains an ERROR.
    status_field: ClassVar[str]
    error_field: ClassVar[str]
    publish_edge: ClassVar[str]
    container_wait_seconds: ClassVar[float] = CONTAINER_WAIT_SECONDS
    # Our metric name → the network's (`GET /{media-id}/insights`).
    metrics: ClassVar[dict[str, str]]
    # The grant of `GET /refresh_access_token` (a long-lived token renews itself).
    refresh_grant: ClassVar[str]

    def graph(self, path: str) -> str:
        return f"{self.base_url}/{self.graph_version}/{path.lstrip('/')}"

    @staticmethod
    def auth(credentials: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {credentials.get('access_token', '')}"}

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        return meta_error(self.network, response, write=write)

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        by_name = {theirs: ours for ours, theirs in self.metrics.items()}
        for media_id in external_ids:
            try:
                data = (
                    await self.get(
                        credentials,
                        f"{media_id}/insights",
                        metric=",".join(self.metrics.values()),
                    )
                )["data"]
            except NetworkError as exc:
                if exc.error_class in ("content_rejected", "media_error"):
                    continue  # deleted, or a media without insights: nothing to report
                raise
            # An empty set while the network has not measured a post yet (Instagram: up to
            # 48 h): those metrics are absent, never 0.
            found[media_id] = {
                by_name[m["name"]]: (m["name"], m["values"][0]["value"])
                for m in data
                if m.get("name") in by_name and m.get("values")
            }
        return found

    async def refresh(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        """Long-lived tokens are refreshed with themselves while still valid."""
        if not credentials.get("access_token"):
            return None
        r = await self.call(
            "GET",
            f"{self.base_url}/refresh_access_token",
            params={"grant_type": self.refresh_grant, "access_token": credentials["access_token"]},
        )
        if r.status_code != 200:
            error = self.classify(r, write=False)
            if error.error_class in ("auth_expired", "content_rejected"):
                raise NetworkError("auth_expired", error.message, status=r.status_code)
            raise error
        issued = r.json()
        return {
            **credentials,
            "access_token": issued["access_token"],
            "expires_at": int(time.time() + int(issued.get("expires_in", LONG_LIVED_SECONDS))),
        }

    def gone(self, response: httpx.Response) -> bool:
        return graph_gone(response)

    async def get(self, credentials: dict[str, Any], path: str, **params: Any) -> Any:
        r = await self.call("GET", self.graph(path), params=params, headers=self.auth(credentials))
        if r.status_code != 200:
            raise self.classify(r, write=False)
        return r.json()

    async def post(
        self, credentials: dict[str, Any], path: str, data: dict[str, Any], *, write: bool
    ) -> Any:
        r = await self.call(
            "POST", self.graph(path), write=write, data=data, headers=self.auth(credentials)
        )
        if r.status_code != 200:
            raise self.classify(r, write=write)
        return r.json()

    async def create_container(
        self, credentials: dict[str, Any], owner: str, data: dict[str, Any]
    ) -> str:
        body = await self.post(credentials, self.container_edge(owner), data, write=False)
        return str(body["id"])

    def container_edge(self, owner: str) -> str:
        raise NotImplementedError

    def wait_budget(self) -> float:
        timeout = self.client.timeout.read or self.container_wait_seconds
        return min(self.container_wait_seconds, CONTAINER_WAIT_TIMEOUTS * timeout)

    def wait_deadline(self) -> float:
        """One deadline for every container of an attempt (a carousel's children and its
        parent share it)."""
        return time.monotonic() + self.wait_budget()

    async def wait_ready(
        self, credentials: dict[str, Any], container_id: str, *, deadline: float
    ) -> None:
        """Polls the container until the network has fetched and processed its media."""
        pause = FIRST_POLL_SECONDS
        while True:
            fields = f"{self.status_field},{self.error_field}"
            try:
                info = await self.get(credentials, container_id, fields=fields)
            except NetworkError as exc:
                # A status read is safe to repeat; only a refusal ends the wait.
                if exc.error_class != "transient" or time.monotonic() + pause > deadline:
                    raise
                info = {}
            state = str(info.get(self.status_field) or "")
            if state in ("FINISHED", "PUBLISHED"):
                return
            if state == "ERROR":
                detail = info.get(self.error_field) or "the media could not be processed"
                raise NetworkError("media_error", f"{self.network}: {detail}")
            if state == "EXPIRED":
                raise NetworkError(
                    "transient",
                    f"{self.network}: container {container_id} expired before it was published",
                )
            if time.monotonic() + pause > deadline:
                raise NetworkError(
                    "transient", f"{self.network} is still processing container {container_id}"
                )
            await asyncio.sleep(pause)
            pause = min(MAX_POLL_SECONDS, pause * 2)

    async def publish_container(
        self, credentials: dict[str, Any], owner: str, container_id: str
    ) -> str:
        body = await self.post(
            credentials, f"{owner}/{self.publish_edge}", {"creation_id": container_id}, write=True
        )
        return str(body["id"])

    async def permalink(self, credentials: dict[str, Any], media_id: str) -> str | None:
        """The post's public URL. The post is live whatever happens here, so a failed read
        leaves the URL out rather than failing the publish."""
        try:
            body = await self.get(credentials, media_id, fields="permalink")
        except NetworkError:
            return None
        value = body.get("permalink")
        return str(value) if value else None

    async def listing(
        self,
        credentials: dict[str, Any],
        path: str,
        *,
        fields: str,
        since: datetime,
        pages: int = 5,
    ) -> list[dict[str, Any]]:
        """Items of an account edge created since `since`, newest first, paging on the
        `after` cursor. Raises on any failure: "not there" must come from the network."""
        params: dict[str, Any] = {"fields": fields, "limit": 100, "since": int(since.timestamp())}
        found: list[dict[str, Any]] = []
        for _page in range(pages):
            body = await self.get(credentials, path, **params)
            found.extend(body.get("data") or [])
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not after or not paging.get("next"):
                break
            params["after"] = after
        return found


def created_at(item: dict[str, Any]) -> datetime | None:
    value = item.get("timestamp") or item.get("created_time")
    if not value:
        return None
    return graph_time(str(value))
