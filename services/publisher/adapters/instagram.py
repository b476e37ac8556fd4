"""Instagram (Graph API with Instagram Login, professional accounts).

Publishing is the container flow (`containers.py`): `POST /{ig-user-id}/media` with an
`image_url`, a `video_url` (`media_type=REELS`), or carousel children (`is_carousel_item`)
under a `CAROUSEL` parent; poll `status_code` until FINISHED; `POST /{ig-user-id}/media_publish`.
Instagram fetches the media itself, so it must be on a public URL, and it takes JPEG only.
Comments: `POST /{media-id}/comments` (first comment), `POST /{comment-id}/replies` (replies,
top-level comments only); direct messages: `POST /{ig-user-id}/messages`. Comments reach
Herald by webhook, so nothing here polls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.publisher.adapters.base import (
    Account,
    ChannelRef,
    Lookup,
    NetworkError,
    Outgoing,
    Published,
    followers,
)
from services.publisher.adapters.containers import ContainerAdapter, created_at
from shared.networks.formats import FEED, STORY, format_of

MAX_CAROUSEL = 10
# Our metric name → Instagram's (`GET /{media-id}/insights`).
INSTAGRAM_METRICS = {
    "views": "views",
    "reach": "reach",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "saves": "saved",
    "engagements": "total_interactions",
}


def format_params(post: Outgoing, chosen: str) -> dict[str, Any]:
    """The container of a story (`STORIES`, an image or a video, no caption: a Story shows
    none) or of a reel (`REELS`, with its caption, feed sharing and cover)."""
    if len(post.media) != 1:
        raise NetworkError("media_error", f"an Instagram {chosen} carries exactly one item")
    item = post.media[0]
    url = str(item.get("url") or "")
    video = item.get("kind") == "video"
    if chosen == STORY:
        return {"media_type": "STORIES", "video_url" if video else "image_url": url}
    if not video:
        raise NetworkError("media_error", "an Instagram reel is a video")
    data: dict[str, Any] = {
        "media_type": "REELS",
        "video_url": url,
        "caption": post.text,
        "share_to_feed": "true" if post.options.get("share_to_feed", True) else "false",
    }
    if post.options.get("cover_url"):
        data["cover_url"] = str(post.options["cover_url"])
    if post.options.get("thumb_offset") is not None:
        data["thumb_offset"] = str(int(post.options["thumb_offset"]))
    return data


def media_type_of(post: Outgoing) -> str:
    """What Instagram's media listing will call the post once published."""
    if len(post.media) > 1:
        return "CAROUSEL_ALBUM"
    return "VIDEO" if post.media and post.media[0].get("kind") == "video" else "IMAGE"


class InstagramAdapter(ContainerAdapter):
    network = "instagram"
    real_url = "https://graph.instagram.com"
    graph_version = "v21.0"
    metrics = INSTAGRAM_METRICS
    refresh_grant = "ig_refresh_token"
    status_field = "status_code"
    error_field = "status"
    publish_edge = "media_publish"

    def container_edge(self, owner: str) -> str:
        return f"{owner}/media"

    async def verify(self, credentials: dict[str, Any]) -> Account:
        data = await self.get(credentials, "me", fields="user_id,username,name")
        # `user_id` is the professional account id the publishing edges take; `id` is
        # app-scoped and only stands in when the former is missing.
        user_id = str(data.get("user_id") or data["id"])
        return Account(
            external_id=user_id,
            name=data.get("name") or data.get("username") or user_id,
            username=data.get("username"),
            credentials={**credentials, "ig_user_id": user_id},
        )

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        if post.is_dm:
            return await self.message(credentials, channel=channel, post=post)
        if post.reply_to:
            body = await self.post(
                credentials, self.comment_edge(post), {"message": post.text}, write=True
            )
            return Published(external_id=str(body["id"]), url=None)
        owner = channel.external_id
        deadline = self.wait_deadline()
        container = await self.build(credentials, owner, post, deadline=deadline)
        await self.wait_ready(credentials, container, deadline=deadline)
        media_id = await self.publish_container(credentials, owner, container)
        return Published(external_id=media_id, url=await self.permalink(credentials, media_id))

    async def build(
        self, credentials: dict[str, Any], owner: str, post: Outgoing, *, deadline: float
    ) -> str:
        """The container to publish: a single image or reel, or a carousel whose children
        are made (and ready) first."""
        if not post.media:
            raise NetworkError("media_error", "an Instagram post needs an image or a video")
        if len(post.media) > MAX_CAROUSEL:
            raise NetworkError(
                "media_error", f"Instagram takes at most {MAX_CAROUSEL} items in a carousel"
            )
        for item in post.media:
            if item.get("kind") not in ("image", "video"):
                raise NetworkError(
                    "media_error", f"Instagram takes images and videos, not {item.get('kind')}"
                )
        chosen = format_of(post.options)
        if chosen != FEED:
            return await self.create_container(credentials, owner, format_params(post, chosen))
        if len(post.media) == 1:
            data = self.item_params(post.media[0], carousel=False)
            data["caption"] = post.text
            return await self.create_container(credentials, owner, data)
        children = [
            await self.create_container(credentials, owner, self.item_params(item, carousel=True))
            for item in post.media
        ]
        await asyncio.gather(
            *(self.wait_ready(credentials, c, deadline=deadline) for c in children)
        )
        return await self.create_container(
            credentials,
            owner,
            {
                "media_type": "CAROUSEL",
                "children": ",".join(children),
                "caption": post.text,
            },
        )

    @staticmethod
    def item_params(item: dict[str, Any], *, carousel: bool) -> dict[str, Any]:
        url = str(item.get("url") or "")
        if item.get("kind") == "video":
            # A video on its own is a reel (feed videos are reels since 2023); inside a
            # carousel it stays a VIDEO child.
            data: dict[str, Any] = {
                "media_type": "VIDEO" if carousel else "REELS",
                "video_url": url,
            }
            if not carousel:
                data["share_to_feed"] = "true"
        else:
            data = {"image_url": url}
        if carousel:
            data["is_carousel_item"] = "true"
        return data

    @staticmethod
    def on_media(post: Outgoing) -> bool:
        """A first comment goes under the media; a reply goes under the fan's comment."""
        root = post.options.get("root_id")
        return not post.options.get("reply_kind") or (
            root is not None and str(root) == post.reply_to
        )

    def comment_edge(self, post: Outgoing) -> str:
        return f"{post.reply_to}/comments" if self.on_media(post) else f"{post.reply_to}/replies"

    async def message(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        recipient = post.options.get("recipient_id")
        if not recipient:
            raise NetworkError("content_rejected", "a direct message needs a recipient")
        r = await self.call(
            "POST",
            self.graph(f"{channel.external_id}/messages"),
            write=True,
            json={"recipient": {"id": str(recipient)}, "message": {"text": post.text}},
            headers=self.auth(credentials),
        )
        if r.status_code != 200:
            raise self.classify(r, write=True)
        return Published(external_id=str(r.json()["message_id"]), url=None)

    async def find_published(self, credentials: dict[str, Any], lookup: Lookup) -> Published | None:
        channel, post, since, until = lookup.channel, lookup.post, lookup.since, lookup.until
        if post.is_dm:
            return None  # the messaging API cannot be searched: a lost DM stays unknown
        wanted = post.text.strip()
        if post.reply_to:
            items = (
                await self.get(
                    credentials, self.comment_edge(post), fields="id,text,username,timestamp"
                )
            )["data"]
            for item in items:
                when = created_at(item)
                if (
                    item.get("username") == channel.username
                    and (item.get("text") or "").strip() == wanted
                    and when is not None
                    and since <= when <= until
                ):
                    return Published(external_id=str(item["id"]), url=None)
            return None
        kind = media_type_of(post)
        # Stories are listed apart from the account's media.
        edge = "stories" if format_of(post.options) == STORY else "media"
        items = await self.listing(
            credentials,
            f"{channel.external_id}/{edge}",
            fields="id,caption,media_type,timestamp,permalink",
            since=since,
        )
        for item in items:
            when = created_at(item)
            if (
                (item.get("caption") or "").strip() == wanted
                and item.get("media_type", kind) == kind
                and when is not None
                and since <= when <= until
            ):
                return Published(external_id=str(item["id"]), url=item.get("permalink"))
        return None

    async def account_numbers(
        self, credentials: dict[str, Any], *, channel: ChannelRef
    ) -> dict[str, tuple[str, float]]:
        data = await self.get(credentials, "me", fields="user_id,followers_count")
        return followers("followers_count", data.get("followers_count"))
