"""Threads (graph.threads.net).

Publishing is the container flow (`containers.py`): `POST /{user}/threads` with `media_type`
TEXT, IMAGE (`image_url`), VIDEO (`video_url`) or CAROUSEL (children made with
`is_carousel_item`), poll the container's `status`, then `POST /{user}/threads_publish`.
A reply (and a first comment) is a container with `reply_to_id`. Replies reach Herald by
webhook, so nothing here polls.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from services.publisher.adapters.base import (
    Account,
    ChannelRef,
    Lookup,
    NetworkError,
    Outgoing,
    Published,
    count_of,
    poll_results,
)
from services.publisher.adapters.containers import ContainerAdapter, created_at

MAX_CAROUSEL = 20
# Our metric name → Threads' (`GET /{media-id}/insights`). Threads' own "shares" are sends
# to other apps; its reposts are what other networks call shares.
THREADS_METRICS = {
    "views": "views",
    "likes": "likes",
    "comments": "replies",
    "shares": "reposts",
    "quotes": "quotes",
    "sends": "shares",
}


POLL_FIELDS = "poll_attachment{" + ",".join(
    [f"option_{x}" for x in "abcd"] + [f"option_{x}_votes_percentage" for x in "abcd"]
    + ["total_votes", "expiration_timestamp"]
) + "}"


def poll_counts(poll: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """Threads gives a poll's total and each option's share of it, not each option's count:
    the count is the share of the total (shares that add up to about 100 are percentages,
    to about 1 fractions)."""
    total = count_of(poll.get("total_votes"))
    shares = [count_of(poll.get(f"option_{x}_votes_percentage"))
              for x in "abcd" if poll.get(f"option_{x}")]
    scale = 100.0 if sum(share or 0.0 for share in shares) > 1.5 else 1.0
    votes = [None if total is None or share is None else round(total * share / scale)
             for share in shares]
    found = poll_results(votes, network_metric="poll_attachment.option_votes_percentage")
    if total is not None:
        found["poll_votes"] = ("poll_attachment.total_votes", total)
    return found


class ThreadsAdapter(ContainerAdapter):
    network = "threads"
    real_url = "https://graph.threads.net"
    graph_version = "v1.0"
    metrics = THREADS_METRICS
    refresh_grant = "th_refresh_token"
    status_field = "status"
    error_field = "error_message"
    publish_edge = "threads_publish"

    def container_edge(self, owner: str) -> str:
        return f"{owner}/threads"

    async def delete(self, credentials: dict[str, Any], external_id: str) -> None:
        await self.change("DELETE", self.graph(external_id), gone_ok=True,
                          headers=self.auth(credentials))

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found = await super().insights(credentials, channel=channel, external_ids=external_ids)
        for media_id in external_ids:
            try:
                data = await self.get(credentials, media_id, fields=POLL_FIELDS)
            except NetworkError as exc:
                if exc.error_class in ("content_rejected", "media_error"):
                    continue  # deleted meanwhile: nothing to count
                raise
            if isinstance(data.get("poll_attachment"), dict):
                found.setdefault(media_id, {}).update(poll_counts(data["poll_attachment"]))
        return found

    async def verify(self, credentials: dict[str, Any]) -> Account:
        data = await self.get(credentials, "me", fields="id,username,name")
        user_id = str(data["id"])
        return Account(
            external_id=user_id,
            name=data.get("name") or data.get("username") or user_id,
            username=data.get("username"),
            credentials={**credentials, "user_id": user_id},
        )

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        if post.is_dm:
            raise NetworkError("content_rejected", "Threads has no direct messages")
        owner = channel.external_id
        deadline = self.wait_deadline()
        container = await self.build(credentials, owner, post, deadline=deadline)
        await self.wait_ready(credentials, container, deadline=deadline)
        media_id = await self.publish_container(credentials, owner, container)
        return Published(external_id=media_id, url=await self.permalink(credentials, media_id))

    async def build(
        self, credentials: dict[str, Any], owner: str, post: Outgoing, *, deadline: float
    ) -> str:
        if len(post.media) > MAX_CAROUSEL:
            raise NetworkError(
                "media_error", f"Threads takes at most {MAX_CAROUSEL} items in a carousel"
            )
        for item in post.media:
            if item.get("kind") not in ("image", "video"):
                raise NetworkError(
                    "media_error", f"Threads takes images and videos, not {item.get('kind')}"
                )
        data: dict[str, Any] = {"text": post.text}
        if post.reply_to:
            data["reply_to_id"] = post.reply_to
        if not post.media:
            data["media_type"] = "TEXT"
            if post.options.get("link"):
                data["link_attachment"] = str(post.options["link"])
            if post.poll:
                # Threads names the choices option_a … option_d; a poll stays open 24 hours.
                data["poll_attachment"] = orjson.dumps(
                    {f"option_{'abcd'[i]}": o for i, o in enumerate(post.poll["options"])}
                ).decode()
        elif len(post.media) == 1:
            data.update(self.item_params(post.media[0], carousel=False))
        else:
            children = [
                await self.create_container(
                    credentials, owner, self.item_params(item, carousel=True)
                )
                for item in post.media
            ]
            await asyncio.gather(
                *(self.wait_ready(credentials, c, deadline=deadline) for c in children)
            )
            data.update({"media_type": "CAROUSEL", "children": ",".join(children)})
        return await self.create_container(credentials, owner, data)

    @staticmethod
    def item_params(item: dict[str, Any], *, carousel: bool) -> dict[str, Any]:
        url = str(item.get("url") or "")
        if item.get("kind") == "video":
            data: dict[str, Any] = {"media_type": "VIDEO", "video_url": url}
        else:
            data = {"media_type": "IMAGE", "image_url": url}
        if item.get("alt"):
            data["alt_text"] = str(item["alt"])
        if carousel:
            data["is_carousel_item"] = "true"
        return data

    async def find_published(
        self, credentials: dict[str, Any], lookup: Lookup
    ) -> Published | None:
        channel, post, since, until = lookup.channel, lookup.post, lookup.since, lookup.until
        wanted = post.text.strip()
        if post.reply_to:
            items = await self.listing(
                credentials,
                f"{channel.external_id}/replies",
                fields="id,text,timestamp,permalink,replied_to",
                since=since,
            )
        else:
            items = await self.listing(
                credentials,
                f"{channel.external_id}/threads",
                fields="id,text,timestamp,permalink",
                since=since,
            )
        for item in items:
            when = created_at(item)
            parent = (item.get("replied_to") or {}).get("id")
            if (
                (item.get("text") or "").strip() == wanted
                and (not post.reply_to or parent is None or str(parent) == post.reply_to)
                and when is not None
                and since <= when <= until
            ):
                return Published(external_id=str(item["id"]), url=item.get("permalink"))
        return None
