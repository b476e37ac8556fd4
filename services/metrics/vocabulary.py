"""One vocabulary over the networks' metric names.

Every network names its numbers differently (NETWORKS.md, Metrics table). Reports speak the
common names below; each sample keeps the network's own name next to the common one, so a
mapping mistake can be seen and fixed without losing data.
"""

from __future__ import annotations

VOCABULARY: tuple[str, ...] = (
    "views",  # impressions, media views, plays of a post
    "reach",  # unique accounts reached
    "likes",  # likes, reactions, favourites
    "comments",  # comments, replies
    "shares",  # shares, reposts, retweets, reblogs
    "quotes",
    "saves",  # saves, bookmarks
    "sends",  # shares by private message / link (Threads "shares")
    "clicks",
    "video_views",
    "engagements",  # the network's own engagement total, where it reports one
    "followers",  # account level
)

# What counts as an engagement when Herald adds them up itself.
ENGAGEMENT_METRICS: tuple[str, ...] = (
    "likes", "comments", "shares", "quotes", "saves", "sends", "clicks",
)

ACCOUNT_METRICS: tuple[str, ...] = ("followers",)

# network → {network's name: common name}. Names as the official APIs spell them.
NETWORK_NAMES: dict[str, dict[str, str]] = {
    "facebook": {
        "post_media_view": "views",
        "post_media_views": "views",
        "post_impressions": "views",
        "post_impressions_unique": "reach",
        "post_reactions_by_type_total": "likes",
        "reactions": "likes",
        "post_clicks": "clicks",
        "post_engagements": "engagements",
        "post_video_views": "video_views",
        "page_follows": "followers",
        "page_fans": "followers",
        "followers_count": "followers",
    },
    "instagram": {
        "impressions": "views",
        "saved": "saves",
        "total_interactions": "engagements",
        "plays": "video_views",
        "video_views": "video_views",
        "follower_count": "followers",
        "followers_count": "followers",
    },
    "threads": {
        "replies": "comments",
        "reposts": "shares",
        "quotes": "quotes",
        # Threads counts reposts separately; its "shares" are sends to other apps.
        "shares": "sends",
        "followers_count": "followers",
    },
    "x": {
        "impression_count": "views",
        "like_count": "likes",
        "reply_count": "comments",
        "retweet_count": "shares",
        "quote_count": "quotes",
        "bookmark_count": "saves",
        "url_link_clicks": "clicks",
        "view_count": "video_views",
        "followers_count": "followers",
    },
    "linkedin": {
        "impressionCount": "views",
        "uniqueImpressionsCount": "reach",
        "clickCount": "clicks",
        "likeCount": "likes",
        "commentCount": "comments",
        "shareCount": "shares",
        "followerCount": "followers",
        # LinkedIn's "engagement" is a rate, not a count: kept under its own name.
        "engagement": "linkedin_engagement_rate",
    },
    "tiktok": {
        "view_count": "views",
        "like_count": "likes",
        "comment_count": "comments",
        "share_count": "shares",
        "follower_count": "followers",
    },
    "youtube": {
        "viewCount": "views",
        "likeCount": "likes",
        "commentCount": "comments",
        "subscriberCount": "followers",
    },
    "mastodon": {
        "favourites_count": "likes",
        "replies_count": "comments",
        "reblogs_count": "shares",
        "followers_count": "followers",
    },
    "bluesky": {
        "likeCount": "likes",
        "repostCount": "shares",
        "replyCount": "comments",
        "quoteCount": "quotes",
        "followersCount": "followers",
    },
}

# Names several networks (and the sandbox) share, tried after the network's own table.
GENERIC_NAMES: dict[str, str] = {
    "impressions": "views",
    "reactions": "likes",
    "favourites": "likes",
    "replies": "comments",
    "reposts": "shares",
    "retweets": "shares",
    "reblogs": "shares",
    "bookmarks": "saves",
    "saved": "saves",
    "subscribers": "followers",
}


def common_name(*, network: str, network_metric: str, metric: str | None = None) -> str:
    """The common name of a network's metric.

    A name nobody maps is kept as the network spelled it (lower-cased), so it is stored and
    visible but never silently added to a common figure.
    """
    specific = NETWORK_NAMES.get(network, {})
    if network_metric in specific:
        return specific[network_metric]
    for candidate in (metric, network_metric):
        if candidate is None:
            continue
        if candidate in VOCABULARY:
            return candidate
        lowered = candidate.lower()
        if lowered in VOCABULARY:
            return lowered
        if lowered in GENERIC_NAMES:
            return GENERIC_NAMES[lowered]
    return network_metric.lower()
