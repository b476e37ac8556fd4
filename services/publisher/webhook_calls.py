"""The networks' own calls for webhook subscriptions and comment moderation, in one place.

Subscribing: Meta (`/{id}/subscribed_apps` with the fields the inbox reads), X Account
Activity (app-only token, a CRC-checked webhook, then the user's subscription), LinkedIn
organisation notifications (`/rest/eventSubscriptions`), YouTube WebSub (`hub.subscribe` with
a lease; the hub checks intent with the inbox). TikTok pushes to the app as configured in its
developer portal; Mastodon and Bluesky push nothing to an account: both are polled.

Moderating: see `MODERATION` in the inbox for what each network lets an account do; a wish
the network does not grant is refused here as well, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx

from services.publisher.adapters.base import Adapter, NetworkError, bearer
from services.publisher.adapters.facebook import GRAPH_VERSION, graph_error

Push = Literal["webhook", "app", "polling"]
# How each network lets Herald hear a channel (NETWORKS.md and the networks' docs).
PUSH: dict[str, Push] = {
    "facebook": "webhook",
    "instagram": "webhook",
    "threads": "webhook",
    "x": "webhook",
    "linkedin": "webhook",
    "youtube": "webhook",
    "tiktok": "app",
    "mastodon": "polling",
    "bluesky": "polling",
}
META_FIELDS = {
    "facebook": ["feed", "mention", "messages"],
    "instagram": ["comments", "mentions", "messages"],
    "threads": ["replies", "mentions"],
}
LINKEDIN_EVENT = "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS"
WEBSUB_HUB = "https://pubsubhubbub.appspot.com/subscribe"
YOUTUBE_FEED = "https://www.youtube.com/xml/feeds/videos.xml?channel_id={}"
# TikTok's webhook events (its developer docs); comments are not among them.
TIKTOK_EVENTS = [
    "authorization.removed",
    "video.upload.failed",
    "video.publish.completed",
    "portability.download.ready",
]


class Refused(Exception):
    """The network will not do this for this account; the message says why."""


@dataclass(frozen=True)
class Subscribed:
    topics: list[str]
    expires_at: datetime | None = None


def error_of(adapter: Adapter, response: httpx.Response) -> NetworkError:
    classify = getattr(adapter, "classify", None)
    if classify is not None:
        error: NetworkError = classify(response, write=False)
        return error
    return graph_error(adapter.network, response, write=False)


def graph_url(adapter: Adapter, path: str) -> str:
    version = getattr(adapter, "graph_version", GRAPH_VERSION)
    return f"{adapter.base_url}/{version}/{path.lstrip('/')}"


async def checked(adapter: Adapter, method: str, url: str, **kwargs: Any) -> httpx.Response:
    r = await adapter.call(method, url, **kwargs)
    if r.status_code // 100 != 2:
        raise error_of(adapter, r)
    return r


# subscribe / unsubscribe -------------------------------------------------------------------


async def subscribe(
    adapter: Adapter,
    credentials: dict[str, Any],
    *,
    external_id: str,
    callback: str,
    lease: timedelta,
) -> Subscribed:
    network = adapter.network
    if network in META_FIELDS:
        fields = META_FIELDS[network]
        await checked(
            adapter,
            "POST",
            graph_url(adapter, f"{external_id}/subscribed_apps"),
            data={"subscribed_fields": ",".join(fields)},
            headers=bearer(credentials),
        )
        return Subscribed(topics=fields)
    if network == "x":
        hook_id = await _x_webhook(adapter, callback)
        await checked(
            adapter,
            "POST",
            adapter.url(f"/2/account_activity/webhooks/{hook_id}/subscriptions/all"),
            headers=bearer(credentials),
        )
        return Subscribed(topics=["account_activity"])
    if network == "linkedin":
        await checked(
            adapter,
            "PUT",
            _linkedin_url(adapter, external_id, credentials),
            json={"webhook": callback},
            headers=_linkedin_headers(adapter, credentials),
        )
        return Subscribed(topics=[LINKEDIN_EVENT])
    if network == "youtube":
        await _websub(adapter, "subscribe", external_id=external_id, callback=callback, lease=lease)
        return Subscribed(
            topics=[YOUTUBE_FEED.format(external_id)], expires_at=datetime.now(UTC) + lease
        )
    raise Refused(f"{network} has no per-account webhook subscription")


async def unsubscribe(
    adapter: Adapter, credentials: dict[str, Any], *, external_id: str, callback: str
) -> None:
    network = adapter.network
    if network in META_FIELDS:
        await checked(
            adapter,
            "DELETE",
            graph_url(adapter, f"{external_id}/subscribed_apps"),
            headers=bearer(credentials),
        )
    elif network == "x":
        hook_id = await _x_webhook(adapter, callback, register=False)
        if hook_id is not None:
            await checked(
                adapter,
                "DELETE",
                adapter.url(
                    f"/2/account_activity/webhooks/{hook_id}/subscriptions/{external_id}/all"
                ),
                headers=bearer({"access_token": await _x_app_token(adapter)}),
            )
    elif network == "linkedin":
        await checked(
            adapter,
            "DELETE",
            _linkedin_url(adapter, external_id, credentials),
            headers=_linkedin_headers(adapter, credentials),
        )
    elif network == "youtube":
        await _websub(
            adapter, "unsubscribe", external_id=external_id, callback=callback, lease=timedelta(0)
        )


async def _x_app_token(adapter: Adapter) -> str:
    """X's webhook endpoints take an app-only bearer token (client credentials)."""
    if adapter.app is None:
        raise Refused("X's app credentials are not configured (PUBLISHER_NETWORK_APPS)")
    r = await checked(
        adapter,
        "POST",
        adapter.url("/2/oauth2/token"),
        data={"grant_type": "client_credentials"},
        auth=(adapter.app.client_id, adapter.app.client_secret),
    )
    return str(r.json()["access_token"])


async def _x_webhook(adapter: Adapter, callback: str, *, register: bool = True) -> str | None:
    """The id of the app's webhook at `callback`, registering it (X runs its CRC check against
    the inbox then) when it is not there yet."""
    token = await _x_app_token(adapter)
    headers = bearer({"access_token": token})
    r = await checked(adapter, "GET", adapter.url("/2/webhooks"), headers=headers)
    for hook in r.json().get("data") or []:
        if hook.get("url") == callback:
            return str(hook["id"])
    if not register:
        return None
    r = await checked(
        adapter, "POST", adapter.url("/2/webhooks"), headers=headers, json={"url": callback}
    )
    return str(r.json()["data"]["id"])


def _linkedin_headers(adapter: Adapter, credentials: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = adapter.headers(credentials)  # type: ignore[attr-defined]
    return headers


def _linkedin_url(adapter: Adapter, external_id: str, credentials: dict[str, Any]) -> str:
    return adapter.url(
        f"/rest/eventSubscriptions/{_linkedin_key(adapter, external_id, credentials)}"
    )


def _linkedin_key(adapter: Adapter, external_id: str, credentials: dict[str, Any]) -> str:
    if not external_id.startswith("urn:li:organization:"):
        raise Refused(
            "LinkedIn sends social action notifications for organisation pages only; "
            "a member's own profile is not covered"
        )
    app = adapter.app.client_id if adapter.app else ""
    person = credentials.get("person_urn") or "urn:li:person:me"
    return (
        f"(developerApplication:urn:li:developerApplication:{app},user:{person},"
        f"entity:{external_id},eventType:{LINKEDIN_EVENT})"
    )


async def _websub(
    adapter: Adapter, mode: str, *, external_id: str, callback: str, lease: timedelta
) -> None:
    hub = WEBSUB_HUB if adapter.base_url == adapter.real_url else adapter.base_url + "/websub/hub"
    form = {
        "hub.mode": mode,
        "hub.callback": callback,
        "hub.topic": YOUTUBE_FEED.format(external_id),
        "hub.verify": "async",
    }
    if mode == "subscribe":
        form["hub.lease_seconds"] = str(int(lease.total_seconds()))
        if adapter.app is not None and adapter.app.client_secret:
            # The inbox checks each notification's X-Hub-Signature with this secret.
            form["hub.secret"] = adapter.app.client_secret
    r = await adapter.call("POST", hub, data=form)
    if r.status_code not in (202, 204):
        raise NetworkError(
            "transient" if r.status_code >= 500 else "content_rejected",
            f"the WebSub hub answered {r.status_code}: {r.text[:200]}",
            status=r.status_code,
        )


# moderation --------------------------------------------------------------------------------

REFUSALS = {
    ("threads", "delete"): "Threads lets an account hide replies, not delete other people's",
    ("x", "delete"): "X lets an account hide replies to its posts, not delete them",
    ("linkedin", "hide"): "LinkedIn lets an organisation delete comments, not hide them",
    ("linkedin", "unhide"): "LinkedIn lets an organisation delete comments, not hide them",
}
LINKEDIN_COMMENT = re.compile(
    r"^urn:li:comment:\((?P<post>urn:li:[a-zA-Z]+:[^,]+),(?P<id>[^)]+)\)$"
)


async def moderate(
    adapter: Adapter, credentials: dict[str, Any], *, external_id: str, action: str
) -> None:
    """Hides, shows again or deletes the audience comment `external_id`. Raises Refused when
    the network does not let an account do that, NetworkError when the call fails."""
    network = adapter.network
    reason = REFUSALS.get((network, action))
    if reason is not None:
        raise Refused(reason)
    hide = action == "hide"
    auth = bearer(credentials)
    if network in ("facebook", "instagram"):
        url = graph_url(adapter, external_id)
        if action == "delete":
            await checked(adapter, "DELETE", url, headers=auth)
        else:
            key = "is_hidden" if network == "facebook" else "hide"
            await checked(adapter, "POST", url, data={key: str(hide).lower()}, headers=auth)
    elif network == "threads":
        await checked(
            adapter,
            "POST",
            graph_url(adapter, f"{external_id}/manage_reply"),
            data={"hide": str(hide).lower()},
            headers=auth,
        )
    elif network == "x":
        await checked(
            adapter,
            "PUT",
            adapter.url(f"/2/tweets/{external_id}/hidden"),
            json={"hidden": hide},
            headers=auth,
        )
    elif network == "youtube":
        if action == "delete":
            await checked(
                adapter,
                "DELETE",
                adapter.url("/youtube/v3/comments"),
                params={"id": external_id},
                headers=auth,
            )
        else:
            await checked(
                adapter,
                "POST",
                adapter.url("/youtube/v3/comments/setModerationStatus"),
                params={"id": external_id, "moderationStatus": "rejected" if hide else "published"},
                headers=auth,
            )
    elif network == "linkedin":
        match = LINKEDIN_COMMENT.match(external_id)
        if match is None:
            raise Refused(f"{external_id!r} is not a LinkedIn comment URN")
        await checked(
            adapter,
            "DELETE",
            adapter.url(
                f"/rest/socialActions/{quote(match['post'], safe=':')}/comments/{match['id']}"
            ),
            headers=_linkedin_headers(adapter, credentials),
        )
    else:
        raise Refused(f"{network} does not let an account hide or delete comments")
