"""Review of a post before it goes out: submitted, approved (stage by stage, where the
workspace has stages) or sent back with changes requested.

draft → in_review → approved / changes_requested → scheduled. Each step is guarded by the
post's version, like any change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Post, Target
from services.scheduler.planning import (
    EDITABLE,
    Versions,
    check_version,
    refs,
    wake_dispatcher_if_needed,
)
from services.scheduler.posts import load_post, record_transition
from services.scheduler.workspaces import Defaults, workspace_settings
from shared.auth import Principal
from shared.errors import Conflict, PermissionDenied
from shared.events import Envelope, PostApproved, PostRejected, PostScheduled
from shared.outbox import Outbox


def _set_status(
    session: AsyncSession,
    *,
    post: Post,
    targets: Sequence[Target],
    status: str,
    by: str,
    comment: str | None = None,
) -> None:
    previous = post.status
    for target in targets:
        if target.status in EDITABLE:
            target.status = status
    post.status = status
    post.version += 1
    post.updated_at = datetime.now(UTC)
    record_transition(
        session, post_id=post.id, from_status=previous, to_status=status, by=by, comment=comment
    )


async def submit(
    session: AsyncSession, *, principal: Principal, post_id: UUID, expected_version: Versions
) -> tuple[Post, list[Target]]:
    """Asks for review: draft or changes_requested → in_review."""
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    check_version(post, expected_version)
    if post.status not in {"draft", "changes_requested"}:
        raise Conflict(f"A post that is {post.status} cannot be submitted.", field="status")
    _set_status(session, post=post, targets=targets, status="in_review", by=principal.principal_id)
    post.approval_stage = 0
    return post, targets


async def approve(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    comment: str | None,
    expected_version: Versions,
    outbox: Outbox,
    notify_horizon: float,
    defaults: Defaults | None = None,
) -> tuple[Post, list[Target]]:
    """in_review → scheduled (when it has a time) or approved (a time still to be chosen).

    The role check is the route's (`posts.approve`). In a workspace with approval stages each
    approval is the current stage's (by one it names), and only the last stage's approval
    moves the post on; in one that forbids it, a post's creator approves no stage of it.
    """
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    check_version(post, expected_version)
    if post.status != "in_review":
        raise Conflict(
            f"Only a post in review can be approved (it is {post.status}).", field="status"
        )
    ws = (
        await workspace_settings(session, workspace_id=post.workspace_id, defaults=defaults)
        if defaults is not None
        else None
    )
    stage = _approval_stage(post, principal=principal, ws=ws)
    if stage is not None and post.approval_stage + 1 < len(ws.approval_stages if ws else ()):
        return await _approve_stage(
            session, post=post, targets=targets, by=principal.principal_id, stage=stage,
            comment=comment, outbox=outbox,
        )  # fmt: skip
    now = datetime.now(UTC)
    scheduled = post.schedule is not None
    # Occurrences of a series that already went out are not part of what is approved.
    planned = [t for t in targets if t.status in EDITABLE]
    if scheduled:
        if post.schedule and post.schedule.get("now"):
            for target in planned:
                target.due_at = now
        late = [t for t in planned if t.due_at is not None and t.due_at <= now]
        if late:
            raise Conflict(
                "The planned time passed while the post waited for review; "
                "give it a new time (PATCH schedule) and submit it again.",
                field="schedule.at",
            )
    by = principal.principal_id
    _set_status(session, post=post, targets=targets, status="approved", by=by, comment=comment)
    events = [
        Envelope.of(
            PostApproved(
                post_id=post.id, by=by, comment=comment, stage=stage["name"] if stage else None
            ),
            workspace_id=post.workspace_id,
        )
    ]
    if scheduled:
        _set_status(session, post=post, targets=targets, status="scheduled", by=by)
        events.append(
            Envelope.of(
                PostScheduled(post_id=post.id, targets=refs(planned)),
                workspace_id=post.workspace_id,
            )
        )
        await wake_dispatcher_if_needed(
            session, due_times=[t.due_at for t in planned], horizon=notify_horizon, now=now
        )
    await outbox.add(session, *events)
    return post, targets


def _approval_stage(
    post: Post, *, principal: Principal, ws: Defaults | None
) -> dict[str, Any] | None:
    """The stage this approval is for (None without stages); refuses who may not give it."""
    if ws is None:
        return None
    if ws.forbid_self_approval and post.created_by == principal.principal_id:
        raise PermissionDenied("In this workspace nobody approves their own post.", field="post_id")
    if not ws.approval_stages:
        return None
    stage = ws.approval_stages[min(post.approval_stage, len(ws.approval_stages) - 1)]
    roles, principals = stage.get("roles") or [], stage.get("principals") or []
    if (roles or principals) and not (
        principal.role in roles or principal.principal_id in principals
    ):
        raise PermissionDenied(
            f"The post waits for the {stage['name']!r} stage, which you may not approve.",
            field="stage",
        )
    return stage


async def _approve_stage(
    session: AsyncSession,
    *,
    post: Post,
    targets: list[Target],
    by: str,
    stage: dict[str, Any],
    comment: str | None,
    outbox: Outbox,
) -> tuple[Post, list[Target]]:
    """One stage approved, more to come: the post stays in review, one stage further."""
    post.approval_stage += 1
    post.version += 1
    post.updated_at = datetime.now(UTC)
    record_transition(
        session,
        post_id=post.id,
        from_status="in_review",
        to_status="in_review",
        by=by,
        comment=f"{stage['name']} approved" + (f": {comment}" if comment else ""),
    )
    await outbox.add(
        session,
        Envelope.of(
            PostApproved(post_id=post.id, by=by, comment=comment, stage=stage["name"], final=False),
            workspace_id=post.workspace_id,
        ),
    )
    return post, targets


async def reject(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    comment: str | None,
    expected_version: Versions,
    outbox: Outbox,
) -> tuple[Post, list[Target]]:
    """in_review → changes_requested, with the reviewer's comment."""
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    check_version(post, expected_version)
    if post.status != "in_review":
        raise Conflict(
            f"Only a post in review can be rejected (it is {post.status}).", field="status"
        )
    by = principal.principal_id
    _set_status(
        session, post=post, targets=targets, status="changes_requested", by=by, comment=comment
    )
    post.approval_stage = 0
    await outbox.add(
        session,
        Envelope.of(
            PostRejected(post_id=post.id, by=by, comment=comment),
            workspace_id=post.workspace_id,
        ),
    )
    return post, targets
