"""LinkedIn (Posts API, versioned `/rest`). No idempotency key exists, so an unknown outcome is
settled by reading the author's posts (or the comments under the parent, for comments) before
anything is sent again."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import httpx

from services.publisher import previews
from services.publisher.adapters.base import (
    Account,
    Adapter,
    ChannelRef,
    Lookup,
    NetworkError,
    Outgoing,
    Published,
    bearer,
    poll_results,
    retry_after_seconds,
)
from shared.networks.cards import card_link

# The Posts API answers only versioned calls (`YYYYMM`); each version lives about a year.
LINKEDIN_VERSION = "202505"
OAUTH_HOST = "https://www.linkedin.com"
LINKEDIN_METRICS = {
    "views": "impressionCount",
    "reach": "uniqueImpressionsCount",
    "clicks": "clickCount",
    "likes": "likeCount",
    "comments": "commentCount",
    "shares": "shareCount",
    "engagement_rate": "engagement",
}
# "little text": these characters mean markup in `commentary` and must be escaped to be shown.
RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
STATS_BATCH = 20


def little_text(text: str) -> str:
    """Plain text as Posts API commentary: reserved characters escaped, hashtags kept as
    hashtags (`{hashtag|\\#|tag}`) so they still link."""
    out: list[str] = []
    pos = 0
    for match in HASHTAG.finditer(text):
        out.append(RESERVED.sub(r"\\\1", text[pos : match.start()]))
        out.append("{hashtag|\\#|" + RESERVED.sub(r"\\\1", match.group(1)) + "}")
        pos = match.end()
    out.append(RESERVED.sub(r"\\\1", text[pos:]))
    return "".join(out)


def until_midnight_utc(now: datetime | None = None) -> float:
    """LinkedIn's daily limits reset at midnight UTC and its 429 carries no reset header."""
    now = now or datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def millis(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


# Posts API poll durations, by the minutes `options.poll.duration_minutes` gives.
POLL_DURATIONS = {
    24 * 60: "ONE_DAY",
    3 * 24 * 60: "THREE_DAYS",
    7 * 24 * 60: "SEVEN_DAYS",
    14 * 24 * 60: "FOURTEEN_DAYS",
}


def linkedin_poll(poll: dict[str, Any]) -> dict[str, Any]:
    """`content.poll` from a validated `options.poll` (one day when no duration is given)."""
    minutes = int(poll.get("duration_minutes") or 24 * 60)
    return {
        "question": str(poll["question"]),
        "options": [{"text": str(option)} for option in poll["options"]],
        "settings": {"duration": POLL_DURATIONS[minutes]},
    }


class LinkedInAdapter(Adapter):
    network = "linkedin"
    token_seconds = 5_184_000
    real_url = "https://api.linkedin.com"
    # Status polls while LinkedIn processes an uploaded video, and the pause between them.
    video_polls = 60
    video_poll_seconds = 1.0

    def oauth_url(self, path: str) -> str:
        # Tokens come from www.linkedin.com; the sandbox serves both hosts under one prefix.
        if self.base_url == self.real_url:
            return OAUTH_HOST + path
        return self.base_url + path

    @staticmethod
    def headers(credentials: dict[str, Any]) -> dict[str, str]:
        return {
            **bearer(credentials),
            "LinkedIn-Version": LINKEDIN_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def classify(self, response: httpx.Response, *, write: bool) -> NetworkError:
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code = str(body.get("code") or "")
        message = str(body.get("message") or code or response.reason_phrase)
        status = response.status_code
        if status == 401:
            return NetworkError("auth_expired", message, status=status)
        if status == 429:
            wait = retry_after_seconds(response)
            return NetworkError(
                "rate_limited",
                message,
                status=status,
                retry_after=wait if wait is not None else until_midnight_utc(),
            )
        if code == "DUPLICATE_POST" or "duplicate" in message.lower():
            return NetworkError("duplicate", message, status=status)
        if status >= 500:
            return NetworkError("unknown_outcome" if write else "transient", message, status=status)
        lowered = message.lower()
        if any(word in lowered for word in ("media", "image", "video", "upload")):
            return NetworkError("media_error", message, status=status)
        return NetworkError("content_rejected", f"linkedin: {message}", status=status)

    async def get(
        self, credentials: dict[str, Any], url: str, params: dict[str, Any] | None = None
    ) -> Any:
        r = await self.call("GET", url, params=params, headers=self.headers(credentials))
        if r.status_code != 200:
            raise self.classify(r, write=False)
        return r.json()

    async def verify(self, credentials: dict[str, Any]) -> Account:
        """Posts as the organization when one is given (the token's user must administer
        it), otherwise as the member who granted the token."""
        org = credentials.get("organization_urn")
        if org:
            acls = await self.get(
                credentials,
                self.url("/rest/organizationAcls"),
                params={"q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"},
            )
            if not any(e.get("organization") == org for e in acls.get("elements") or []):
                raise NetworkError(
                    "content_rejected", f"this token cannot administer {org}", status=403
                )
            org_id = str(org).rsplit(":", 1)[-1]
            data = await self.get(credentials, self.url(f"/rest/organizations/{org_id}"))
            return Account(
                external_id=str(org),
                name=data.get("localizedName") or str(org),
                username=data.get("vanityName"),
            )
        data = await self.get(credentials, self.url("/v2/userinfo"))
        person = f"urn:li:person:{data['sub']}"
        return Account(
            external_id=person,
            name=data.get("name") or person,
            credentials={**credentials, "person_urn": person},
        )

    async def publish(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        if post.is_dm:
            raise NetworkError("content_rejected", "LinkedIn has no direct messages for apps")
        if post.reply_to:
            return await self.comment(credentials, channel=channel, post=post)
        body: dict[str, Any] = {
            "author": channel.external_id,
            "commentary": little_text(post.text),
            "visibility": str(post.options.get("visibility") or "PUBLIC"),
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if post.options.get("poll"):
            body["content"] = {"poll": linkedin_poll(post.options["poll"])}
        elif post.media:
            body["content"] = await self.content(credentials, channel=channel, media=post.media)
        else:
            article = await self.article(credentials, channel=channel, post=post)
            if article is not None:
                body["content"] = {"article": article}
        r = await self.call(
            "POST",
            self.url("/rest/posts"),
            write=True,
            json=body,
            headers=self.headers(credentials),
        )
        if r.status_code != 201:
            raise self.classify(r, write=True)
        urn = unquote(r.headers.get("x-restli-id") or r.headers.get("x-linkedin-id") or "")
        if not urn:
            # Created, but we cannot tell which post it is: the next attempt looks it up.
            raise NetworkError("unknown_outcome", "LinkedIn answered 201 without x-restli-id")
        return Published(external_id=urn, url=self.post_url(urn))

    async def article(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> dict[str, Any] | None:
        """The link card of a post without media: LinkedIn's Posts API shows only the article
        a client builds (source, title, description, thumbnail image), from the page's tags,
        for the link `shared.networks.cards` names (the one the validate answer previewed)."""
        link = card_link("linkedin", text=post.text, has_media=False, options=post.options)
        if link is None or self.outbound is None:
            return None
        found = await previews.preview_of(
            link, client=self.outbound.client, policy=self.outbound.policy
        )
        if found is None:
            # A page nobody can read: the link goes out in the text, without a card.
            return None
        article: dict[str, Any] = {"source": link, "title": found.title or link}
        if found.description:
            article["description"] = found.description
        if found.image:
            try:
                article["thumbnail"] = await self.upload_image(
                    credentials, channel=channel, item={"url": found.image, "kind": "image"}
                )
            except NetworkError as exc:
                if exc.error_class != "media_error":
                    raise
                # An image the page names but nobody can use: the card goes without it.
        return article

    @staticmethod
    def post_url(urn: str) -> str:
        return f"https://www.linkedin.com/feed/update/{urn}/"

    async def edit(
        self, credentials: dict[str, Any], external_id: str, changes: dict[str, str]
    ) -> None:
        # Posts API partial update: only `commentary` (and a few settings) may change.
        await self.change(
            "POST",
            self.url(f"/rest/posts/{quote(external_id, safe='')}"),
            json={"patch": {"$set": {"commentary": little_text(changes["text"])}}},
            headers={**self.headers(credentials), "X-RestLi-Method": "PARTIAL_UPDATE"},
        )

    async def delete(self, credentials: dict[str, Any], external_id: str) -> None:
        await self.change(
            "DELETE",
            self.url(f"/rest/posts/{quote(external_id, safe='')}"),
            gone_ok=True,
            headers=self.headers(credentials),
        )

    async def content(
        self, credentials: dict[str, Any], *, channel: ChannelRef, media: list[dict[str, Any]]
    ) -> dict[str, Any]:
        kinds = {m.get("kind", "image") for m in media}
        if "video" in kinds:
            if len(media) > 1:
                raise NetworkError("media_error", "LinkedIn takes one video and nothing else")
            urn = await self.upload_video(credentials, channel=channel, item=media[0])
            ref: dict[str, Any] = {"id": urn}
            if media[0].get("alt"):
                ref["title"] = str(media[0]["alt"])
            return {"media": ref}
        if kinds - {"image"}:
            raise NetworkError("media_error", "LinkedIn takes images or one video")
        if len(media) > 20:
            raise NetworkError("media_error", "LinkedIn takes at most 20 images")
        refs = [
            {
                "id": await self.upload_image(credentials, channel=channel, item=m),
                "altText": str(m.get("alt") or ""),
            }
            for m in media
        ]
        if len(refs) == 1:
            return {"media": refs[0]}
        return {"multiImage": {"images": refs}}

    async def upload_image(
        self, credentials: dict[str, Any], *, channel: ChannelRef, item: dict[str, Any]
    ) -> str:
        """initializeUpload, then PUT the bytes to the upload URL it gave. Returns the image
        URN."""
        data, mime = await self.fetch_media(item)
        r = await self.call(
            "POST",
            self.url("/rest/images"),
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": channel.external_id}},
            headers=self.headers(credentials),
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        value = r.json()["value"]
        r = await self.call(
            "PUT",
            self.upload_target(str(value["uploadUrl"])),
            content=data,
            headers={**bearer(credentials), "Content-Type": mime},
        )
        if r.status_code not in (200, 201):
            raise self.media_failure(r)
        return str(value["image"])

    async def upload_video(
        self, credentials: dict[str, Any], *, channel: ChannelRef, item: dict[str, Any]
    ) -> str:
        """initializeUpload (which splits the file into parts), PUT each part and keep its
        ETag, finalizeUpload with the ETags, then wait until LinkedIn has processed the video.
        Returns the video URN."""
        data, mime = await self.fetch_media(item)
        headers = self.headers(credentials)
        r = await self.call(
            "POST",
            self.url("/rest/videos"),
            params={"action": "initializeUpload"},
            json={
                "initializeUploadRequest": {
                    "owner": channel.external_id,
                    "fileSizeBytes": len(data),
                    "uploadCaptions": False,
                    "uploadThumbnail": False,
                }
            },
            headers=headers,
        )
        if r.status_code != 200:
            raise self.classify(r, write=False)
        value = r.json()["value"]
        urn = str(value["video"])
        etags: list[str] = []
        for part in value.get("uploadInstructions") or []:
            first, last = int(part["firstByte"]), int(part["lastByte"])
            r = await self.call(
                "PUT",
                self.upload_target(str(part["uploadUrl"])),
                content=data[first : last + 1],
                headers={**bearer(credentials), "Content-Type": "application/octet-stream"},
            )
            if r.status_code not in (200, 201):
                raise self.media_failure(r)
            etags.append(r.headers.get("etag", "").strip('"'))
        r = await self.call(
            "POST",
            self.url("/rest/videos"),
            params={"action": "finalizeUpload"},
            json={
                "finalizeUploadRequest": {
                    "video": urn,
                    "uploadToken": value.get("uploadToken", ""),
                    "uploadedPartIds": etags,
                }
            },
            headers=headers,
        )
        if r.status_code not in (200, 201, 204):
            raise self.media_failure(r)
        for _ in range(self.video_polls):
            status = await self.get(credentials, self.url(f"/rest/videos/{quote(urn, safe='')}"))
            state = str(status.get("status") or "")
            if state == "AVAILABLE":
                return urn
            if state == "PROCESSING_FAILED":
                raise NetworkError("media_error", f"LinkedIn could not process the video ({mime})")
            await asyncio.sleep(self.video_poll_seconds)
        raise NetworkError("transient", "LinkedIn is still processing the video")

    def media_failure(self, response: httpx.Response) -> NetworkError:
        error = self.classify(response, write=False)
        if error.error_class == "content_rejected":
            return NetworkError("media_error", error.message, status=response.status_code)
        return error

    def upload_target(self, url: str) -> str:
        # The sandbox names its public address in upload URLs; keep talking where we are.
        if self.base_url != self.real_url and "/dms-uploads/" in url:
            return self.base_url + "/dms-uploads/" + url.split("/dms-uploads/", 1)[1]
        return url

    async def comment(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> Published:
        """A comment on a post, or on a comment (then `parentComment` names it and the
        object stays the post)."""
        parent = str(post.reply_to)
        root = str(post.options.get("root_id") or parent)
        body: dict[str, Any] = {
            "actor": channel.external_id,
            "object": root,
            "message": {"text": post.text},
        }
        if parent.startswith("urn:li:comment:"):
            body["parentComment"] = parent
        r = await self.call(
            "POST",
            self.url(f"/rest/socialActions/{quote(parent, safe='')}/comments"),
            write=True,
            json=body,
            headers=self.headers(credentials),
        )
        if r.status_code not in (200, 201):
            raise self.classify(r, write=True)
        data = r.json() if r.content else {}
        urn = str(data.get("$URN") or data.get("commentUrn") or r.headers.get("x-restli-id") or "")
        if not urn:
            raise NetworkError("unknown_outcome", "LinkedIn did not name the new comment")
        return Published(external_id=urn, url=self.post_url(root))

    async def recent_posts(
        self, credentials: dict[str, Any], *, channel: ChannelRef, post: Outgoing
    ) -> AsyncIterator[dict[str, Any]]:
        # The author finder wants the URN encoded once inside the query (Rest.li 2.0).
        author = quote(channel.external_id, safe="")
        for start in range(0, 500, 100):
            url = self.url(
                f"/rest/posts?q=author&author={author}&count=100&start={start}&sortBy=CREATED"
            )
            elements = (await self.get(credentials, url)).get("elements") or []
            for item in elements:
                yield item
            if len(elements) < 100:
                return

    def created_at(self, item: dict[str, Any]) -> datetime | None:
        return millis(item.get("createdAt") or item.get("publishedAt"))

    def same_post(self, item: dict[str, Any], post: Outgoing) -> Published | None:
        if item.get("commentary", "") != little_text(post.text):
            return None
        return Published(external_id=str(item["id"]), url=self.post_url(str(item["id"])))

    async def find_comment(
        self, credentials: dict[str, Any], lookup: Lookup
    ) -> Published | None:
        channel, post, since, until = lookup.channel, lookup.post, lookup.since, lookup.until
        parent = str(post.reply_to)
        root = str(post.options.get("root_id") or parent)
        page = await self.get(
            credentials,
            self.url(f"/rest/socialActions/{quote(parent, safe='')}/comments?count=100"),
        )
        for item in page.get("elements") or []:
            created = millis((item.get("created") or {}).get("time"))
            if (
                item.get("actor") == channel.external_id
                and (item.get("message") or {}).get("text") == post.text
                and created is not None
                and since <= created <= until
            ):
                urn = str(item.get("$URN") or item.get("commentUrn") or item.get("id"))
                return Published(external_id=urn, url=self.post_url(root))
        return None

    async def insights(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found = await self.share_statistics(credentials, channel=channel, external_ids=external_ids)
        for urn, votes in (await self.poll_votes(credentials, external_ids)).items():
            found.setdefault(urn, {}).update(votes)
        return found

    async def poll_votes(
        self, credentials: dict[str, Any], external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        """A poll's counts are on the post itself (`content.poll.options[].voteCount`), for
        member and organization posts alike: each post is read, and those with a poll count."""
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        for urn in external_ids:
            try:
                post = await self.get(credentials, self.url(f"/rest/posts/{quote(urn, safe='')}"))
            except NetworkError as exc:
                if exc.error_class == "content_rejected":
                    continue  # deleted meanwhile: nothing to count
                raise
            poll = (post.get("content") or {}).get("poll")
            if isinstance(poll, dict):
                votes = [option.get("voteCount") for option in poll.get("options") or []]
                found[urn] = poll_results(votes, network_metric="content.poll.options.voteCount")
        return found

    async def share_statistics(
        self, credentials: dict[str, Any], *, channel: ChannelRef, external_ids: list[str]
    ) -> dict[str, dict[str, tuple[str, float | None]]]:
        found: dict[str, dict[str, tuple[str, float | None]]] = {}
        if not channel.external_id.startswith("urn:li:organization:"):
            return found  # share statistics exist for organization posts only
        by_name = {theirs: ours for ours, theirs in LINKEDIN_METRICS.items()}
        org = quote(channel.external_id, safe="")
        kinds = {
            "shares": [u for u in external_ids if u.startswith("urn:li:share:")],
            "ugcPosts": [u for u in external_ids if u.startswith("urn:li:ugcPost:")],
        }
        for param, urns in kinds.items():
            for start in range(0, len(urns), STATS_BATCH):
                batch = ",".join(quote(u, safe="") for u in urns[start : start + STATS_BATCH])
                url = self.url(
                    "/rest/organizationalEntityShareStatistics"
                    f"?q=organizationalEntity&organizationalEntity={org}"
                    f"&{param}=List({batch})"
                )
                data = await self.get(credentials, url)
                for element in data.get("elements") or []:
                    urn = str(element.get("share") or element.get("ugcPost") or "")
                    totals = element.get("totalShareStatistics") or {}
                    found[urn] = {
                        by_name[name]: (name, float(value))
                        for name, value in totals.items()
                        if name in by_name and isinstance(value, int | float)
                    }
        return found

    def refresh_url(self) -> str | None:
        # LinkedIn keeps the refresh token until it expires (365 days from consent).
        return self.oauth_url("/oauth/v2/accessToken")
