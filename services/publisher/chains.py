"""A thread of posts (`options.thread`) published as a real reply chain.

The post itself is the first part; each part after it answers the one before (X
`reply.in_reply_to_tweet_id`, Threads `reply_to_id`, Mastodon `in_reply_to_id`, Bluesky
`reply.root`/`reply.parent`). Every part has its own idempotency key and record key, derived
from the job's, so a resend of part 3 can never be mistaken for part 2.
"""

from __future__ import annotations

from typing import Any

from services.publisher.adapters.base import Outgoing, Published

# Options of the first part that every later part keeps (who may see the chain).
CARRIED = ("visibility",)


def part_count(post: Outgoing) -> int:
    """How many posts the chain has: 1 for a plain post."""
    thread = post.options.get("thread")
    return 1 + (len(thread) if isinstance(thread, list) else 0)


def head(post: Outgoing) -> Outgoing:
    """The first part: the post without its thread option."""
    options = {k: v for k, v in post.options.items() if k != "thread"}
    return Outgoing(
        key=post.key, target_id=post.target_id, text=post.text, media=post.media, options=options
    )


def part(post: Outgoing, *, index: int, parent: Published, root: Published) -> Outgoing:
    """Part `index` (1-based after the head) as a reply to `parent`, in the chain of `root`."""
    raw = post.options["thread"][index - 1]
    text, media = _read(raw)
    options: dict[str, Any] = {k: post.options[k] for k in CARRIED if k in post.options}
    options.update(in_reply_to=parent.external_id, root_id=root.external_id, thread_part=index)
    return Outgoing(
        key=f"{post.key}.{index}",
        target_id=f"{post.target_id}.{index}",
        text=text,
        media=media,
        options=options,
    )


def _read(raw: Any) -> tuple[str, list[dict[str, Any]]]:
    # Validation accepted only these two shapes (shared.networks.validate._read_thread_part).
    if isinstance(raw, str):
        return raw, []
    return str(raw.get("text") or ""), [dict(m) for m in raw.get("media") or []]


def as_record(published: Published) -> dict[str, Any]:
    return {"external_id": published.external_id, "url": published.url}


def from_record(record: dict[str, Any]) -> Published:
    return Published(external_id=str(record["external_id"]), url=record.get("url"))
