"""How the post routes answer: the post as the API shows it, with its version as the ETag."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Response

from services.scheduler.models import Post, Target
from services.scheduler.schemas import PostOut, post_out
from shared.etag import version_etag


def answer(response: Response, post: Post, targets: Sequence[Target]) -> PostOut:
    """The post, its version in the ETag the next If-Match sends back."""
    response.headers["ETag"] = version_etag(post.version)
    return post_out(post, targets)


def answer_new(response: Response, post: Post, targets: Sequence[Target]) -> PostOut:
    """A post the request made: `answer`, and where it now lives."""
    response.headers["Location"] = f"/v1/posts/{post.id}"
    return answer(response, post, targets)
