"""What the team does with a conversation: status, assignment, tags, notes and replies.

Every action is written to `activity` with the principal who did it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox import saved_replies
from services.inbox.members import require_member
from services.inbox.models import Activity, Channel, Conversation, Message, Moderation, Note
from shared import audit
from shared.auth import Principal
from shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from shared.etag import if_match_versions
from shared.events import (
    CommentModerated,
    CommentModerationRequested,
    ConversationAssigned,
    ConversationReplied,
    ConversationResolved,
    Envelope,
    ReplyFailed,
    ReplyRequested,
    ReplySent,
)
from shared.networks.blocking import BLOCK_REFUSALS, BLOCKS
from shared.outbox import Outbox

UNSET: Any = object()


async def find_conversation(
    session: AsyncSession, *, principal: Principal, conversation_id: uuid.UUID, lock: bool = False
) -> Conversation:
    query = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.workspace_id == principal.workspace_id
    )
    if lock:
        query = query.with_for_update()
    conversation = await session.scalar(query)
    if conversation is None:
        raise NotFound(f"No conversation {conversation_id} in this workspace.")
    return conversation


async def lock_message(
    session: AsyncSession, message_id: uuid.UUID
) -> tuple[Conversation, Message] | None:
    """A message and its conversation, locked in the one order every writer takes them
    (conversation, then message): taken the other way round, an answer from the network and a
    teammate's action on the same thread deadlock."""
    conversation_id = await session.scalar(
        select(Message.conversation_id).where(Message.id == message_id)
    )
    if conversation_id is None:
        return None
    conversation = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    message = await session.scalar(
        select(Message).where(Message.id == message_id).with_for_update()
    )
    if conversation is None or message is None:
        return None
    return conversation, message


def is_unread(conversation: Conversation) -> bool:
    """Something from the audience arrived after the team last marked the thread read."""
    if conversation.last_inbound_at is None:
        return False
    return conversation.read_at is None or conversation.last_inbound_at > conversation.read_at


async def _record(
    session: AsyncSession, *, conversation_id: uuid.UUID, actor: str, action: str,
    detail: dict[str, Any],
) -> None:
    session.add(Activity(conversation_id=conversation_id, actor=actor, action=action,
                         detail=detail))
    await session.flush()


async def update_conversation(
    session: AsyncSession,
    *,
    outbox: Outbox,
    principal: Principal,
    conversation_id: uuid.UUID,
    status: str | None = None,
    assignee: str | None = UNSET,
    tags: list[str] | None = None,
    priority: str | None = None,
    read: bool | None = None,
    if_match: str | None = None,
) -> Conversation:
    conversation = await find_conversation(
        session, principal=principal, conversation_id=conversation_id, lock=True
    )
    versions = if_match_versions(if_match)
    if versions is not None and conversation.version not in versions:
        raise PreconditionFailed(
            "The conversation changed since you read it (a new message or a teammate's "
            "change); fetch it again.",
            field="If-Match",
        )
    now = datetime.now(UTC)
    events: list[Any] = []
    changes: dict[str, Any] = {}
    if status is not None and status != conversation.status:
        changes["status"] = [conversation.status, status]
        conversation.status = status
        if status == "resolved":
            conversation.resolved_at = now
            events.append(
                ConversationResolved(
                    conversation_id=conversation.id,
                    resolution_seconds=(now - conversation.first_message_at).total_seconds(),
                    resolved_at=now,
                )
            )
    if assignee is not UNSET and assignee != conversation.assignee:
        if assignee is not None:
            await require_member(session, workspace_id=conversation.workspace_id, assignee=assignee)
        changes["assignee"] = [conversation.assignee, assignee]
        conversation.assignee = assignee
        events.append(ConversationAssigned(conversation_id=conversation.id, assignee=assignee))
    if tags is not None:
        # Kept in the order given, once each: tags are labels, not a bag.
        unique = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
        if unique != list(conversation.tags):
            changes["tags"] = [list(conversation.tags), unique]
            conversation.tags = unique
    if priority is not None and priority != conversation.priority:
        changes["priority"] = [conversation.priority, priority]
        conversation.priority = priority
    if read is True and is_unread(conversation):
        changes["read"] = [False, True]
        conversation.read_at = now
    elif read is False and not is_unread(conversation):
        changes["read"] = [True, False]
        conversation.read_at = None
    if changes:
        conversation.version += 1
        await _record(session, conversation_id=conversation.id, actor=principal.principal_id,
                      action="updated", detail=changes)
        await outbox.add(
            session,
            *(Envelope.of(e, workspace_id=conversation.workspace_id) for e in events),
        )
    return conversation


async def add_note(
    session: AsyncSession, *, principal: Principal, conversation_id: uuid.UUID, text: str
) -> Note:
    conversation = await find_conversation(
        session, principal=principal, conversation_id=conversation_id, lock=True
    )
    note = Note(conversation_id=conversation.id, workspace_id=conversation.workspace_id,
                author=principal.principal_id, text=text)
    conversation.version += 1
    session.add(note)
    await _record(session, conversation_id=conversation.id, actor=principal.principal_id,
                  action="noted", detail={})
    await session.refresh(note)
    return note


async def request_reply(
    session: AsyncSession,
    *,
    outbox: Outbox,
    principal: Principal,
    conversation_id: uuid.UUID,
    text: str | None = None,
    saved_reply_id: uuid.UUID | None = None,
) -> Message:
    """Records the team's answer as `sending` and asks the publisher to send it."""
    conversation = await find_conversation(
        session, principal=principal, conversation_id=conversation_id, lock=True
    )
    channel = await session.get(Channel, conversation.channel_id)
    if channel is None or channel.status == "disconnected":
        raise Conflict("The channel of this conversation is no longer connected.",
                       field="channel_id")
    if saved_reply_id is not None:
        saved = await saved_replies.find(session, principal=principal, reply_id=saved_reply_id)
        text = saved_replies.render(
            saved.text,
            saved_replies.variables_for(conversation=conversation, channel=channel,
                                        principal=principal),
        )
    if not text or not text.strip():
        raise ValidationFailed("A reply needs text or a saved reply.", field="text")
    # Answer the latest thing the person said, so the reply lands in the right thread.
    last = await session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "inbound")
        .order_by(Message.sent_at.desc())
        .limit(1)
    )
    now = datetime.now(UTC)
    reply = await send_as_channel(
        session,
        outbox=outbox,
        conversation=conversation,
        channel=channel,
        text=text,
        sent_by=principal.principal_id,
        sent_at=now,
        in_reply_to=last.external_id if last and conversation.kind != "dm" else None,
        recipient_id=conversation.author.get("id") if conversation.kind == "dm" else None,
    )
    # Answering a thread means it has been read.
    conversation.read_at = now
    conversation.version += 1
    await _record(session, conversation_id=conversation.id, actor=principal.principal_id,
                  action="replied", detail={"reply_id": str(reply.id)})
    return reply


async def send_as_channel(
    session: AsyncSession,
    *,
    outbox: Outbox,
    conversation: Conversation,
    channel: Channel,
    text: str,
    sent_by: str,
    sent_at: datetime,
    in_reply_to: str | None,
    recipient_id: str | None = None,
    kind: str | None = None,
) -> Message:
    """The channel's own message in `conversation`, kept as `sending`, and the request that
    the publisher send it: the one way anything is written back to the audience. `kind` is
    the conversation's unless said (a contest writes to a commenter privately: `dm`)."""
    kind = kind or conversation.kind
    reply = Message(
        id=uuid.uuid4(),
        conversation_id=conversation.id,
        workspace_id=conversation.workspace_id,
        channel_id=conversation.channel_id,
        network=conversation.network,
        kind=kind,
        direction="outbound",
        text=text,
        delivery_status="sending",
        sent_by=sent_by,
        sent_at=sent_at,
        author_id=channel.external_id,
        author_name=channel.name,
    )
    session.add(reply)
    await session.flush()
    await outbox.add(
        session,
        Envelope.of(
            ReplyRequested(
                reply_id=reply.id,
                conversation_id=conversation.id,
                channel_id=conversation.channel_id,
                network=conversation.network,
                text=text,
                in_reply_to=in_reply_to,
                kind=kind,
                recipient_id=recipient_id,
                # A direct message hangs under no post.
                root_id=conversation.post_external_id if kind != "dm" else None,
            ),
            workspace_id=conversation.workspace_id,
        ),
    )
    return reply


async def reply_sent(
    session: AsyncSession, *, outbox: Outbox, workspace_id: uuid.UUID | None, sent: ReplySent
) -> None:
    locked = await lock_message(session, sent.reply_id)
    if locked is None or locked[1].delivery_status == "sent":
        return
    conversation, reply = locked
    reply.external_id = sent.external_id
    reply.delivery_status = "sent"
    reply.error = None
    reply.sent_at = sent.sent_at
    first = None
    if conversation.first_response_at is None:
        conversation.first_response_at = sent.sent_at
        first = (sent.sent_at - conversation.first_message_at).total_seconds()
    conversation.last_message_at = max(conversation.last_message_at, sent.sent_at)
    conversation.version += 1
    await outbox.add(
        session,
        Envelope.of(
            ConversationReplied(conversation_id=conversation.id, first_response_seconds=first,
                                replied_at=sent.sent_at),
            workspace_id=workspace_id or conversation.workspace_id,
        ),
    )


async def reply_failed(session: AsyncSession, *, failed: ReplyFailed) -> None:
    await session.execute(
        update(Message)
        .where(Message.id == failed.reply_id, Message.delivery_status == "sending")
        .values(delivery_status="failed", error=f"{failed.error_class}: {failed.error}")
    )


# What each network lets a page or account do to the audience's comments under its posts
# (NETWORKS.md and the networks' docs): Facebook `is_hidden` / DELETE, Instagram `hide` /
# DELETE, Threads `manage_reply`, X hidden replies, YouTube `comments.setModerationStatus`
# (heldForReview / published / rejected); LinkedIn lets an organization delete comments on
# its posts (unconfirmed); TikTok, Mastodon and Bluesky offer none of these to an account.
MODERATION: dict[str, frozenset[str]] = {
    "facebook": frozenset({"hide", "unhide", "delete"}),
    "instagram": frozenset({"hide", "unhide", "delete"}),
    "threads": frozenset({"hide", "unhide"}),
    "x": frozenset({"hide", "unhide"}),
    "youtube": frozenset({"hide", "unhide", "delete"}),
    "linkedin": frozenset({"delete"}),
}
MODERATED_STATE = {"hide": "hide_requested", "unhide": "unhide_requested",
                   "delete": "delete_requested", "block": "block_requested"}


# What the comment is on its network once the publisher says the request was carried out.
DONE_STATE = {"hide": "hidden", "unhide": "visible", "delete": "deleted",
              "block": "author_blocked"}


async def moderation_answered(
    session: AsyncSession, *, outbox: Outbox, answer: CommentModerated
) -> None:
    """Records the network's answer on the message: hidden, visible, deleted or its author
    blocked; or `<action>_refused` / `<action>_failed` with the reason. An answer to an older
    request than the latest one for this message is kept in the activity log only. Every
    answer goes to the audit log as well."""
    locked = await lock_message(session, answer.message_id)
    if locked is None:
        return  # the conversation was deleted meanwhile
    message = locked[1]
    latest = await session.scalar(
        select(Moderation.id)
        .where(Moderation.message_id == message.id)
        .order_by(Moderation.requested_at.desc(), Moderation.id.desc())
        .limit(1)
    )
    if latest == answer.moderation_id:
        if answer.outcome == "done":
            message.moderation, message.error = DONE_STATE[answer.action], None
        else:
            message.moderation = f"{answer.action}_{answer.outcome}"
            message.error = answer.error
    await _record(session, conversation_id=message.conversation_id, actor=answer.network,
                  action=f"moderation.{answer.action}.{answer.outcome}",
                  detail={"message_id": str(message.id), "error": answer.error})
    await audit.record(
        session,
        outbox,
        audit.system("inbox", message.workspace_id),
        action="message.moderation_answered",
        resource_type="message",
        resource_id=message.id,
        service="inbox",
        details={"moderation": answer.action, "outcome": answer.outcome, "error": answer.error,
                 "network": answer.network, "requested_by": answer.requested_by},
    )


def can_moderate(network: str, action: str) -> bool:
    return action in MODERATION.get(network, frozenset())


def _check_block(message: Message) -> None:
    """Only someone from the audience is blocked, and only where the network lets an
    account do it (the reason otherwise, before anything is asked of the network)."""
    if message.direction != "inbound" or not message.author_id:
        raise ValidationFailed("Only the author of a message from the audience can be blocked.",
                               field="message_id")
    if message.network not in BLOCKS:
        reason = BLOCK_REFUSALS.get(
            message.network, f"{message.network} does not let an account block people"
        )
        raise Conflict(f"{reason}.", field="action")


async def request_moderation(
    session: AsyncSession,
    *,
    outbox: Outbox,
    message: Message,
    action: str,
    requested_by: str,
) -> Moderation:
    """Asks the publisher to hide, unhide or delete an audience comment on its network, or to
    block the author of any message from the audience."""
    if action == "block":
        _check_block(message)
    elif message.direction != "inbound" or message.kind != "comment" or not message.external_id:
        raise ValidationFailed("Only comments from the audience can be hidden or deleted.",
                               field="message_id")
    elif not can_moderate(message.network, action):
        raise Conflict(f"{message.network} does not let an account {action} comments.",
                       field="action")
    moderation = Moderation(id=uuid.uuid4(), message_id=message.id,
                            workspace_id=message.workspace_id, action=action,
                            requested_by=requested_by)
    session.add(moderation)
    message.moderation = MODERATED_STATE[action]
    await _record(session, conversation_id=message.conversation_id, actor=requested_by,
                  action=f"moderation.{action}", detail={"message_id": str(message.id)})
    await outbox.add(
        session,
        Envelope.of(
            CommentModerationRequested(
                moderation_id=moderation.id, message_id=message.id,
                conversation_id=message.conversation_id, channel_id=message.channel_id,
                network=message.network, external_id=message.external_id, action=action,
                requested_by=requested_by,
                author_id=message.author_id if action == "block" else None,
            ),
            workspace_id=message.workspace_id,
        ),
    )
    return moderation


async def moderate(
    session: AsyncSession,
    *,
    outbox: Outbox,
    principal: Principal,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    action: str,
) -> Message:
    conversation = await find_conversation(
        session, principal=principal, conversation_id=conversation_id, lock=True
    )
    message = await session.scalar(
        select(Message)
        .where(Message.id == message_id, Message.conversation_id == conversation.id)
        .with_for_update()
    )
    if message is None:
        raise NotFound(f"No message {message_id} in this conversation.")
    await request_moderation(session, outbox=outbox, message=message, action=action,
                             requested_by=principal.principal_id)
    conversation.version += 1
    return message
