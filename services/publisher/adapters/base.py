"""What every network adapter offers, and the error classes the publisher acts on."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx

from services.publisher.settings import NetworkApp
from shared.outbound import OutboundPolicy, OutboundRefused, OutboundTimeout, fetch

ErrorClass = Literal[
    "auth_expired",
    "rate_limited",
    "content_rejected",
    "duplicate",
    "media_error",
    "transient",
    "unknown_outcome",
]
# Retrying cannot change these answers: the post fails at once with the network's message.
PERMANENT: frozenset[str] = frozenset({"content_rejected", "duplicate", "media_error"})


class NetworkError(Exception):
    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{error_class}: {message}")
        self.error_class: ErrorClass = error_class
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Outbound:
    """The client and rules for URLs a client gave us (media, a Mastodon instance)."""

    client: httpx.AsyncClient
    policy: OutboundPolicy


@dataclass(frozen=True, kw_only=True)
class Account:
    external_id: str
    name: str
    username: str | None = None
    # What to store for the channel when it differs from what the user gave (a session opened
    # from an app password, a page token found from a user token).
    credentials: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class ChannelRef:
    """The account a call acts for."""

    external_id: str
    username: str | None


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """A post to publish. `key` is stable across attempts (the job id): networks that take a
    caller-chosen id or idempotency key get it, so a resend cannot create a second post."""

    key: str
    target_id: str
    text: str
    media: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


    @property
    def reply_to(self) -> str | None:
        """The post or comment this write answers (replies and first comments)."""
        value = self.options.get("in_reply_to")
        return str(value) if value else None

    @property
    def poll(self) -> dict[str, Any] | None:
        """`options.poll` as validation accepted it: {"options", "duration_minutes", …}."""
        value = self.options.get("poll")
        return value if isinstance(value, dict) else None

    @property
    def is_dm(self) -> bool:
        return self.options.get("reply_kind") == "dm"


@dataclass(frozen=True, kw_only=True)
class Lookup:
    """What to look for after an unknown outcome: `post`, written for `channel` between
    `since` and `until` (the attempt's window, with slack for the network's clock)."""

    channel: ChannelRef
    post: Outgoing
    since: datetime
    until: datetime


@dataclass(frozen=True, kw_only=True)
class Published:
    external_id: str
    url: str | None


@dataclass(frozen=True, kw_only=True)
class Notification:
    """One item polled from a network's notifications, already normalised."""

    external_id: str
    kind: Literal["comment", "mention", "dm"]
    text: str
    author_id: str
    author_name: str | None
    created_at: datetime
    parent_external_id: str | None = None
    post_external_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds until the network accepts calls again, from whichever header it uses."""
    headers = response.headers
    now = time.time()
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    for name in ("x-rate-limit-reset", "ratelimit-reset"):
        value = headers.get(name)
        if value and value.isdigit():
            return max(0.0, int(value) - now)
    value = headers.get("x-ratelimit-reset")  # Mastodon: an ISO 8601 instant
    if value:
        try:
            return max(0.0, datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now)
        except ValueError:
            pass
    return None


class Adapter:
    network: ClassVar[str]
    real_url: ClassVar[str]
    # True when resending after an unknown outcome is safe because the network recognises the
    # repeat itself (an idempotency key or a caller-chosen record key); otherwise the adapter
    # must look the post up (`find_published`) before any resend.
    idempotent: ClassVar[bool] = False
    # Comments and mentions reach Herald by polling (`notifications`), not by webhook.
    polls_notifications: ClassVar[bool] = False
    # What a call to a host the outbound rules refuse means (a host the network named, or,
    # on Mastodon, the instance in the credentials).
    refused_host_error: ClassVar[ErrorClass] = "transient"

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str,
        app: NetworkApp | None,
        outbound: Outbound | None = None,
    ):
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.app = app
        self.outbound = outbound

    async def check_credentials(self, credentials: dict[str, Any]) -> None:
        """Refuses (ValidationFailed) credentials that name somewhere Herald must not go,
        before anything is sent with them."""

    def url(self, path: str, credentials: dict[str, Any] | None = None) -> str:
        return self.base_url + path

    async def verify(self, credentials: dict[str, Any]) -> Account:
        raise NotImplementedError

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        raise NotImplementedError

    async def find_published(
        self, credentials: dict[str, Any], lookup: Lookup
    ) -> Published | None:
        """Looks for a post an earlier attempt may have created (networks without
        idempotency). Raises NetworkError when the lookup itself fails: "not found" must
        only ever mean the network said so.

        By default a comment is looked for under what it answers (`find_comment`), a post
        among the account's own, newest first (`recent_posts`, matched by `same_post`)."""
        channel, post, since, until = lookup.channel, lookup.post, lookup.since, lookup.until
        if post.is_dm:
            return None
        if post.reply_to:
            return await self.find_comment(credentials, lookup)
        async for item in self.recent_posts(credentials, channel=channel, post=post):
            created = self.created_at(item)
            if created is None or created > until:
                continue
            if created < since:
                return None  # newest first: everything further is older still
            found = self.same_post(item, post)
            if found is not None:
                return found
        return None

    def recent_posts(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> AsyncIterator[dict[str, Any]]:
        """The account's posts as the network lists them, newest first."""
        raise NotImplementedError

    def created_at(self, item: dict[str, Any]) -> datetime | None:
        """When a listed post was created."""
        raise NotImplementedError

    def same_post(self, item: dict[str, Any], post: Outgoing) -> Published | None:
        """The listed post, when it is `post`."""
        raise NotImplementedError

    async def find_comment(
        self, credentials: dict[str, Any], lookup: Lookup
    ) -> Published | None:
        """Looks for a comment or reply an earlier attempt may have written."""
        raise NotImplementedError

    async def edit(
        self, credentials: dict[str, Any], external_id: str, changes: dict[str, str]
    ) -> None:
        """Sets `changes` (text, title, description: what `edit_after_publish` allows) on a
        published post."""
        raise NetworkError("content_rejected", f"{self.network} cannot edit a published post")

    async def delete(self, credentials: dict[str, Any], external_id: str) -> None:
        """Removes a published post; one the network no longer has counts as removed."""
        raise NetworkError("content_rejected", f"{self.network} cannot delete a published post")

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        """The error class of a refusal, read the way this network writes its errors."""
        raise NotImplementedError

    def gone(self, response: httpx.Response) -> bool:
        """Whether a refusal says the post is not there (any more)."""
        return response.status_code in (404, 410)

    async def change(
        self, method: str, url: str, *, gone_ok: bool = False, **kwargs: Any
    ) -> httpx.Response | None:
        """One edit or delete of a published post. None when `gone_ok` and the network says
        the post is not there: a delete repeated, or done by hand on the network, is done."""
        r = await self.call(method, url, write=True, **kwargs)
        if r.status_code // 100 == 2:
            return r
        if gone_ok and self.gone(r):
            return None
        raise self.classify(r, write=True)

    async def notifications(
        self, credentials: dict[str, Any], *, channel: ChannelRef, cursor: str | None
    ) -> tuple[list[Notification], str | None]:
        """What arrived since `cursor` (oldest first) and the cursor to keep for next time."""
        raise NotImplementedError

    async def fetch_media(self, item: dict[str, Any]) -> tuple[bytes, str]:
        """The bytes of a post's media item and its MIME type, through the outbound fetcher
        (the URL is the client's: public addresses only, size and time bounded). A URL that
        is refused or answers 4xx is a media error (retrying will not change it); anything
        else is transient."""
        url = str(item.get("url") or "")
        if self.outbound is None:
            raise NetworkError("media_error", "this publisher fetches no media")
        try:
            r = await fetch(self.outbound.client, "GET", url, policy=self.outbound.policy)
        except OutboundTimeout as exc:
            raise NetworkError("transient", f"media {url}: {exc.reason}") from exc
        except OutboundRefused as exc:
            raise NetworkError("media_error", f"media {url} refused: {exc.reason}") from exc
        except httpx.HTTPError as exc:
            raise NetworkError("transient", f"could not fetch media {url}: {exc!r}") from exc
        if 300 <= r.status_code < 500:
            raise NetworkError("media_error", f"media {url} answered {r.status_code}",
                               status=r.status_code)
        if r.status_code != 200:
            raise NetworkError("transient", f"media {url} answered {r.status_code}",
                               status=r.status_code)
        mime = r.headers.get("content-type", "").split(";")[0].strip()
        if not mime:
            mime = {"video": "video/mp4", "gif": "image/gif"}.get(item.get("kind", ""),
                                                                   "image/jpeg")
        return r.content, mime

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        """Per post: our metric name → (the network's metric name, value). A metric the
        network did not report is absent, never 0."""
        raise NotImplementedError

    async def account_numbers(
        self, credentials: dict[str, Any], *, channel: ChannelRef
    ) -> dict[str, tuple[str, float]]:
        """The account's own numbers (followers): our metric name → (the network's metric
        name, value). A network that does not offer them answers {}; a number the network
        hides is absent, never 0."""
        return {}

    def expires_at(self, credentials: dict[str, Any]) -> datetime | None:
        value = credentials.get("expires_at")
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        return None

    async def refresh(self, credentials: dict[str, Any]) -> dict[str, Any] | None:
        """New credentials from the refresh token, or None when this network cannot refresh
        (the channel must then be reconnected). Raises NetworkError(auth_expired) when the
        network refuses the refresh token.

        The OAuth 2.0 refresh grant (RFC 6749 section 6) for networks that name a
        `refresh_url`; the others refresh their own way or not at all."""
        token = credentials.get("refresh_token")
        url = self.refresh_url()
        if not token or self.app is None or url is None:
            return None
        r = await self.call("POST", url, **self.refresh_request(str(token), self.app))
        if r.status_code in (400, 401):
            raise NetworkError("auth_expired", r.text, status=r.status_code)
        # TikTok answers some failures with a 200 and an error body.
        if r.status_code != 200 or "access_token" not in r.text:
            raise NetworkError("transient", r.text, status=r.status_code)
        issued = r.json()
        return {
            **credentials,
            "access_token": issued["access_token"],
            # A network that rotates refresh tokens sends a new one; the others keep theirs.
            "refresh_token": issued.get("refresh_token", token),
            "expires_at": int(time.time() + int(issued.get("expires_in", self.token_seconds))),
            **self.kept_on_refresh(issued, credentials),
        }

    # How long an access token lives when the token answer does not say.
    token_seconds: ClassVar[int] = 3600

    def refresh_url(self) -> str | None:
        """Where the refresh grant is sent; None: not by the standard grant."""
        return None

    def refresh_request(self, token: str, app: NetworkApp) -> dict[str, Any]:
        """The grant's form (client id and secret in the body, as most networks take them)."""
        form = {"grant_type": "refresh_token", "refresh_token": token,
                "client_id": app.client_id, "client_secret": app.client_secret}
        return {"data": form}

    def kept_on_refresh(self, issued: dict[str, Any], credentials: dict[str, Any]
                        ) -> dict[str, Any]:
        """What else of the token answer the credentials keep."""
        return {}

    def client_for(self, url: str) -> httpx.AsyncClient:
        """The network's own host is ours to call; any other host came from a client."""
        if url.startswith(self.base_url + "/") or self.outbound is None:
            return self.client
        return self.outbound.client

    async def call(
        self, method: str, url: str, *, write: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """Sends one request, turning transport failures into error classes.

        A write whose request may have reached the network (the connection broke or timed out
        after sending) is an unknown outcome; one that never left (connect failures, a full
        pool) is a plain transient error.
        """
        try:
            return await self.client_for(url).request(method, url, **kwargs)
        except OutboundRefused as exc:
            raise NetworkError(self.refused_host_error, f"{self.network}: {exc.reason}") from exc
        except httpx.LocalProtocolError as exc:
            # The request could not even be written, e.g. an empty access token makes the
            # header "Bearer " (trailing space) which HTTP forbids: the credentials are at
            # fault, and retrying cannot help.
            raise NetworkError(
                "auth_expired", f"the credentials cannot be sent to {self.network}: {exc}"
            ) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NetworkError("transient", f"{self.network} unreachable: {exc!r}") from exc
        except httpx.TransportError as exc:
            kind: ErrorClass = "unknown_outcome" if write else "transient"
            raise NetworkError(kind, f"{self.network} did not answer: {exc!r}") from exc


def count_of(value: Any) -> float | None:
    """A count as the network sent it (a number, or digits in a string, as YouTube does), or
    None when it sent none: a missing or hidden count must never become 0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.isdigit():
        return float(value)
    return None


def poll_results(
    votes: list[Any], *, network_metric: str
) -> dict[str, tuple[str, float | None]]:
    """A poll's votes as metrics: the total (`poll_votes`) and each option's, in the order the
    options were given (`poll_option_1_votes` …). A count the network did not send is None."""
    counts = [count_of(v) for v in votes]
    found: dict[str, tuple[str, float | None]] = {
        f"poll_option_{i}_votes": (f"{network_metric}[{i}]", c)
        for i, c in enumerate(counts, start=1)
    }
    if counts and all(c is not None for c in counts):
        found["poll_votes"] = (network_metric, sum(c for c in counts if c is not None))
    return found


def followers(network_metric: str, value: Any) -> dict[str, tuple[str, float]]:
    """The `account_numbers` answer for a follower count, empty when there is none."""
    count = count_of(value)
    return {} if count is None else {"followers": (network_metric, count)}


def bearer(credentials: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials.get('access_token', '')}"}
