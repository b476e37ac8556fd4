"""A post already out, fixed or pulled on its networks.

`PATCH /v1/posts/{id}` of a post that went out asks each network to edit it where the network's
API allows (`Features.edit_after_publish`: the text, or a YouTube video's title and
description); `DELETE` asks each network to remove it (`delete_after_publish`). Everything is
checked first: a target whose network cannot do what is asked makes the whole request a 422
naming that target and the reason, and nothing changes.

The request goes to the publisher through the outbox (`target.edit_requested` /
`target.delete_requested`, one `request_id` per target). The target records what was asked,
by whom and when; the publisher's answer (`target.changed`) records how it went (`edited_at`,
`deleted_at` or `remote_error`), and `post.edited` / `post.deleted` tell the clients, with the
network's outcome in `on_network`. Only the answer to the latest request counts: an answer to
an older one, or the same answer twice, changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Post, Target
from services.scheduler.planning import media_refs
from services.scheduler.posts import record_target_moved, refresh_post_status
from services.scheduler.schemas import MediaIn, PostPatch, TargetIn
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import (
    Envelope,
    NetworkChange,
    PostDeleted,
    PostEdited,
    TargetChanged,
    TargetDeleteRequested,
    TargetEditRequested,
)
from shared.networks import UnknownNetwork, rules_for, validate_variant
from shared.outbox import Outbox

log = logging.getLogger(__name__)

# What a PATCH of a published post may give: the copy, per channel or for all, and the version.
PATCHABLE = frozenset({"text", "targets", "version"})
# Statuses in which a target may still go out (or is going out right now).
_NOT_OUT = frozenset(
    {"draft", "in_review", "changes_requested", "approved", "scheduled", "publishing", "retrying"}
)


def live(targets: Sequence[Target]) -> list[Target]:
    """The targets that are on their network now: published and not removed since."""
    return [
        t
        for t in targets
        if t.status == "published" and t.external_id is not None and t.deleted_at is None
    ]


def is_out(targets: Sequence[Target]) -> bool:
    """Whether the post went out and nothing of it is still planned or going out."""
    return bool(live(targets)) and not any(t.status in _NOT_OUT for t in targets)


def _network_name(network: str) -> str:
    try:
        return rules_for(network).name
    except UnknownNetwork:
        return network


def _refusal(
    target: Target, *, field: str, message: str, code: str = "not_supported_after_publish"
) -> dict[str, Any]:
    return {
        "field": f"targets[{target.position}].{field}",
        "message": message,
        "code": code,
        "target_id": str(target.id),
    }


def _raise_refusals(refusals: list[dict[str, Any]]) -> None:
    if refusals:
        first = refusals[0]
        raise ValidationFailed(
            f"{first['field']} (target {first['target_id']}): {first['message']}",
            field=first["field"],
            errors=refusals,
        )


def _variants(patch: PostPatch, targets: Sequence[Target]) -> dict[UUID, TargetIn]:
    """The patch's variants by channel; each must name a channel the post went out on."""
    out_on = {t.channel_id for t in live(targets)}
    variants: dict[UUID, TargetIn] = {}
    for index, variant in enumerate(patch.targets or []):
        if variant.channel_id not in out_on:
            raise ValidationFailed(
                f"The post is not live on channel {variant.channel_id}; only the channels it "
                "is live on can be edited.",
                field=f"targets[{index}].channel_id",
            )
        if variant.media is not None:
            raise ValidationFailed(
                "Media cannot change once a post is out; delete it and post again.",
                field=f"targets[{index}].media",
            )
        variants[variant.channel_id] = variant
    return variants


def _asked(
    post: Post, target: Target, variant: TargetIn | None, text: str | None
) -> dict[str, str]:
    """What this edit changes on the target, in the network's words (a YouTube video's text
    is its description)."""
    asked: dict[str, str] = {}
    new_text = variant.text if variant is not None and variant.text is not None else None
    if new_text is None and text is not None and target.text is None:
        new_text = text  # the base copy, on a target that goes out with it
    current = target.text if target.text is not None else post.text
    if new_text is not None and new_text != current:
        asked["description" if target.network == "youtube" else "text"] = new_text
    options = dict(variant.options) if variant is not None else {}
    title = options.pop("title", None)
    if title is not None and title != (target.options or {}).get("title"):
        asked["title"] = str(title)
    if any((target.options or {}).get(key) != value for key, value in options.items()):
        raise ValidationFailed(
            "Options cannot change once a post is out (only a YouTube video's title can).",
            field=f"targets[{target.position}].options",
        )
    return asked


def _check_edit(post: Post, target: Target, asked: dict[str, str]) -> list[dict[str, Any]]:
    """Why the target's network cannot take `asked` (nothing when it can)."""
    name = _network_name(target.network)
    try:
        rules = rules_for(target.network)
    except UnknownNetwork:
        return [_refusal(target, field="text", message=f"Herald cannot reach {name}.")]
    allowed = rules.features.edit_after_publish
    refused = [key for key in asked if key not in allowed]
    if not refused:
        return _check_copy(post, target, asked)
    if not allowed:
        message = f"{name}'s API cannot edit a published post."
    else:
        message = f"{name}'s API can change only the {' and '.join(allowed)} of a published post."
    field = "options.title" if refused[0] == "title" else "text"
    return [_refusal(target, field=field, message=message)]


def _check_copy(post: Post, target: Target, asked: dict[str, str]) -> list[dict[str, Any]]:
    """The new copy measured against the network's rules, as a new post's would be (the
    media that went out with it stays as it was)."""
    text = asked.get("text", asked.get("description"))
    if text is None and "title" not in asked:
        return []
    if text is None:
        text = target.text if target.text is not None else post.text
    options = dict(target.options or {})
    if "title" in asked:
        options["title"] = asked["title"]
    stored = target.media if target.media is not None else post.media or []
    media = media_refs([MediaIn.model_validate(item) for item in stored])
    result = validate_variant(target.network, text=text, media=media, options=options)
    return [
        _refusal(target, field=problem.field or "text", message=problem.message, code=problem.code)
        for problem in result.problems
        if problem.severity == "error" and problem.code in _COPY_PROBLEMS
    ]


# What the rules say of the copy (the rest was checked when the post went out).
_COPY_PROBLEMS = frozenset(
    {
        "text_required",
        "text_too_long",
        "text_too_many_bytes",
        "too_many_hashtags",
        "too_many_mentions",
        "forbidden_character",
        "title_required",
        "title_too_long",
    }
)


async def edit_published(
    session: AsyncSession,
    *,
    post: Post,
    targets: list[Target],
    patch: PostPatch,
    by: str,
    now: datetime,
    outbox: Outbox,
) -> tuple[Post, list[Target]]:
    """Asks each network the post is live on to take the patch's copy (see the module)."""
    for field in sorted(patch.model_fields_set - PATCHABLE):
        raise ValidationFailed(
            f"A post that went out can change only its text (and a YouTube video's title); "
            f"{field} cannot change any more.",
            field=field,
        )
    variants = _variants(patch, targets)
    asked = {
        t.id: fields
        for t in live(targets)
        if (fields := _asked(post, t, variants.get(t.channel_id), patch.text))
    }
    if not asked:
        raise ValidationFailed("The edit changes nothing on the networks.", field="text")
    by_id = {t.id: t for t in targets}
    _raise_refusals(
        [r for tid, fields in asked.items() for r in _check_edit(post, by_id[tid], fields)]
    )
    asks = [(by_id[target_id], fields) for target_id, fields in asked.items()]
    await _ask(session, post=post, asks=asks, by=by, now=now, outbox=outbox)
    return post, targets


async def delete_published(
    session: AsyncSession,
    *,
    post: Post,
    targets: list[Target],
    target_id: UUID | None,
    by: str,
    now: datetime,
    outbox: Outbox,
) -> tuple[Post, list[Target]]:
    """Asks each network the post is live on (or the one target named) to remove it."""
    chosen = live(targets)
    if target_id is not None:
        if target_id not in {t.id for t in targets}:
            raise NotFound(f"No target {target_id} in this post.", field="target_id")
        chosen = [t for t in chosen if t.id == target_id]
        if not chosen:
            raise Conflict(f"Target {target_id} is not live on its network.", field="target_id")
    if not chosen:
        raise Conflict(f"Nothing left to cancel or remove (the post is {post.status}).")
    _raise_refusals(
        [
            _refusal(
                t,
                field="channel_id",
                message=f"{_network_name(t.network)}'s API cannot delete a published post.",
            )
            for t in chosen
            if not _can_delete(t.network)
        ]
    )
    asks: list[tuple[Target, dict[str, str] | None]] = [(t, None) for t in chosen]
    await _ask(session, post=post, asks=asks, by=by, now=now, outbox=outbox)
    return post, targets


async def _ask(
    session: AsyncSession,
    *,
    post: Post,
    asks: Sequence[tuple[Target, dict[str, str] | None]],
    by: str,
    now: datetime,
    outbox: Outbox,
) -> None:
    """Records each change on its target and asks the publisher for it: an edit with the
    fields it sets, or (no fields) a removal. The post gets a new version."""
    events = []
    for target, fields in asks:
        request_id = uuid.uuid4()
        target.change_request_id = request_id
        target.change_action = "delete" if fields is None else "edit"
        target.change_fields = fields
        target.change_by = by
        target.change_requested_at = now
        target.change_answered_at = None
        target.remote_error = None
        about = {
            "post_id": post.id,
            "target_id": target.id,
            "channel_id": target.channel_id,
            "network": target.network,
            "external_id": target.external_id or "",
            "request_id": request_id,
        }
        data = (
            TargetDeleteRequested(**about)
            if fields is None
            else TargetEditRequested(**about, **fields)
        )
        events.append(Envelope.of(data, workspace_id=post.workspace_id))
    post.version += 1
    post.updated_at = now
    await outbox.add(session, *events)


def _can_delete(network: str) -> bool:
    try:
        return rules_for(network).features.delete_after_publish
    except UnknownNetwork:
        return False


async def record_change(session: AsyncSession, *, answer: TargetChanged, outbox: Outbox) -> None:
    """Records the network's answer on the target, and tells the clients."""
    target = await session.get(Target, answer.target_id, with_for_update=True)
    if target is None:
        log.warning("target.changed for unknown target %s", answer.target_id)
        return
    if target.change_request_id != answer.request_id or target.change_answered_at is not None:
        # An answer to an earlier request (a newer one is under way) or one already recorded.
        return
    target.change_answered_at = answer.at
    if not answer.ok:
        target.remote_error = answer.error or "The network refused the change."
    elif answer.action == "delete":
        target.deleted_at = answer.at
    else:
        _apply_edit(target, target.change_fields or {})
        target.edited_at = answer.at
    outcome = "done" if answer.ok else f"failed ({target.remote_error})"
    record_target_moved(
        session,
        target,
        from_status=target.status,
        by="publisher",
        comment=f"{answer.action} on the network: {outcome}",
    )
    await refresh_post_status(session, post_id=target.post_id)
    post = await session.get(Post, target.post_id)
    assert post is not None
    await outbox.add(session, _outcome_event(post, target, answer))


def _apply_edit(target: Target, fields: dict[str, Any]) -> None:
    """The target shows what is live now."""
    text = fields.get("text", fields.get("description"))
    if text is not None:
        target.text = text
    if "title" in fields:
        target.options = {**(target.options or {}), "title": fields["title"]}


def _outcome_event(post: Post, target: Target, answer: TargetChanged) -> Envelope:
    on_network = NetworkChange(
        target_id=target.id,
        channel_id=target.channel_id,
        network=target.network,
        request_id=answer.request_id,
        ok=answer.ok,
        error=target.remote_error if not answer.ok else None,
    )
    by = target.change_by or "publisher"
    data: PostEdited | PostDeleted
    if answer.action == "delete":
        data = PostDeleted(post_id=post.id, by=by, target_ids=[target.id], on_network=on_network)
    else:
        data = PostEdited(
            post_id=post.id,
            post_version=post.version,
            by=by,
            changed=sorted(target.change_fields or {}),
            status=post.status,
            on_network=on_network,
        )
    return Envelope.of(data, workspace_id=post.workspace_id)
