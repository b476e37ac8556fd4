"""What an account may do to the audience's comments under its own posts, per network.

Facebook: ``POST /{comment-id}`` with ``is_hidden``, ``DELETE /{comment-id}``. Instagram:
``POST /{comment-id}`` with ``hide``, ``DELETE /{comment-id}``. Threads: ``POST
/{reply-id}/manage_reply`` with ``hide`` (no delete of others' replies). X: ``PUT
/2/tweets/{id}/hidden`` (hide replies; no delete of others' posts). YouTube:
``comments.setModerationStatus`` (heldForReview, published, rejected) and ``comments.delete``.
LinkedIn: ``DELETE /rest/socialActions/{post}/comments/{comment}`` for the post's
organisation. Only the owner of the conversation's root may do any of it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import errors
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import bearer, json, json_body, params
from sandbox.state import Account, Post


def root_of(sb: Sandbox, network: str, post: Post) -> Post:
    posts = sb.state.posts[network]
    seen = 0
    while post.reply_to and post.reply_to in posts and seen < 100:
        post = posts[post.reply_to]
        seen += 1
    return post


def owned_comment(sb: Sandbox, network: str, comment_id: str, account: Account) -> Post | None:
    """The audience comment `comment_id` under one of `account`'s posts, or None."""
    comment = sb.state.posts[network].get(comment_id)
    if comment is None or comment.kind != "comment" or comment.deleted:
        return None
    root = root_of(sb, network, comment)
    return comment if root.account_id == account.id else None


def comments_view(sb: Sandbox, network: str, post: Post) -> list[dict[str, Any]]:
    """Every comment in the post's conversation, the hidden and deleted ones included."""
    items = [
        p
        for p in sb.state.posts[network].values()
        if p.reply_to is not None and p.id != post.id and root_of(sb, network, p).id == post.id
    ]
    return [
        {
            "id": p.id,
            "text": p.text,
            "author": p.author_username or p.author_name,
            "author_id": p.author_id,
            "reply_to": p.reply_to,
            "kind": p.kind,
            "hidden": p.hidden,
            "deleted": p.deleted,
        }
        for p in sorted(items, key=lambda p: p.created_at)
    ]


def _flag(value: Any) -> bool | None:
    text = str(value).lower()
    return True if text == "true" else False if text == "false" else None


def meta_moderation(
    sb: Sandbox,
    network: str,
    account: Account,
    method: str,
    segments: list[str],
    p: dict[str, Any],
) -> Response | None:
    """Hide, unhide or delete an audience comment on Facebook, Instagram or Threads; None
    when the request is not one of those."""
    node = segments[0]
    edge = segments[1] if len(segments) > 1 else None
    comment = sb.state.posts[network].get(node)
    if comment is None or comment.kind != "comment":
        return None
    if owned_comment(sb, network, node, account) is None:
        raise errors.graph_error(
            "(#200) Permissions error: only the owner of the post can moderate its comments",
            200,
            type_="OAuthException",
        )
    if network == "threads":
        if edge == "manage_reply" and method == "POST":
            hide = _flag(p.get("hide"))
            if hide is None:
                raise errors.graph_error("(#100) The parameter hide is required", 100)
            comment.hidden = hide
            return json({"success": True})
        return None
    if edge is None and method == "DELETE":
        comment.deleted = True
        return json({"success": True})
    key = "is_hidden" if network == "facebook" else "hide"
    if edge is None and method == "POST" and key in p:
        hide = _flag(p.get(key))
        if hide is None:
            raise errors.graph_error(f"(#100) Param {key} must be a boolean", 100)
        comment.hidden = hide
        return json({"success": True})
    return None


def x_router() -> APIRouter:
    router = APIRouter()

    @router.put("/2/tweets/{tweet_id}/hidden")
    async def hide_reply(tweet_id: str, request: Request) -> Response:
        sb = sandbox_of(request)
        account = sb.authenticate("x", bearer(request))
        body = await json_body(request) or {}
        hidden = body.get("hidden") if isinstance(body, dict) else None
        if not isinstance(hidden, bool):
            raise errors.x_problem(400, "Invalid Request", "hidden must be a boolean")
        reply = owned_comment(sb, "x", tweet_id, account)
        if reply is None:
            raise errors.x_problem(
                403,
                "Forbidden",
                "You can only hide or unhide replies to conversations you authored.",
            )
        reply.hidden = hidden
        return json({"data": {"hidden": hidden}})

    return router


def _activity_of(sb: Sandbox, comment: Post) -> set[str]:
    """The URNs a LinkedIn comment's parent goes by: the post's, and its activity's."""
    parent = sb.state.posts["linkedin"].get(comment.reply_to or "")
    if parent is None:
        return {comment.reply_to or ""}
    return {parent.id, str(parent.extra.get("activity", parent.id))}


def linkedin_router() -> APIRouter:
    router = APIRouter()

    @router.delete("/rest/socialActions/{urn:path}/comments/{comment_id}")
    async def delete_comment(urn: str, comment_id: str, request: Request) -> Response:
        sb = sandbox_of(request)
        account = sb.authenticate("linkedin", bearer(request))
        target = next(
            (
                p
                for p in sb.state.posts["linkedin"].values()
                if p.extra.get("short_id") == comment_id and urn in _activity_of(sb, p)
            ),
            None,
        )
        if target is None or target.deleted:
            raise errors.linkedin_error(404, "NOT_FOUND", "Comment not found")
        if target.kind != "reply" and owned_comment(sb, "linkedin", target.id, account) is None:
            raise errors.linkedin_error(
                403, "ACCESS_DENIED", "Not enough permissions to delete this comment"
            )
        target.deleted = True
        return Response(status_code=204)

    return router


def youtube_router() -> APIRouter:
    router = APIRouter()

    def comment_for(sb: Sandbox, request: Request, comment_id: str) -> Post:
        account = sb.authenticate("youtube", bearer(request))
        comment = owned_comment(sb, "youtube", comment_id, account)
        if comment is None:
            raise errors.google_error(
                403,
                "forbidden",
                "The comment could not be updated due to insufficient permissions.",
            )
        return comment

    @router.post("/youtube/v3/comments/setModerationStatus", status_code=204)
    async def set_moderation_status(request: Request) -> Response:
        sb = sandbox_of(request)
        p = await params(request)
        status = str(p.get("moderationStatus") or "")
        if status not in ("heldForReview", "published", "rejected"):
            raise errors.google_error(
                400, "invalidModerationStatus", "The moderationStatus parameter is invalid."
            )
        for comment_id in str(p.get("id") or "").split(","):
            comment = comment_for(sb, request, comment_id.strip())
            comment.hidden = status != "published"
            comment.extra["moderation_status"] = status
        return Response(status_code=204)

    @router.delete("/youtube/v3/comments", status_code=204)
    async def delete_comment(request: Request) -> Response:
        sb = sandbox_of(request)
        comment = comment_for(sb, request, str(request.query_params.get("id") or ""))
        comment.deleted = True
        return Response(status_code=204)

    return router
