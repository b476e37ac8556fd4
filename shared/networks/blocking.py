"""Which networks let an account block a person through their API, and why the others do not.

The inbox refuses a block on these networks when it is asked (409 with the reason), and the
publisher refuses it the same way should a request reach it anyway.
"""

from __future__ import annotations

BLOCKS = frozenset({"mastodon", "x", "bluesky"})

BLOCK_REFUSALS: dict[str, str] = {
    "facebook": "Herald cannot block people from a Facebook Page; hide or delete their comments",
    "instagram": "Instagram's API does not let a business account block people",
    "threads": "The Threads API does not let an account block people; hide their replies",
    "linkedin": "LinkedIn's API does not let an organisation block members",
    "tiktok": "TikTok's API does not let an account block people",
    "youtube": "The YouTube Data API cannot block a person; hide their comments",
}
