"""Conversations: the inbox itself."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import and_, exists, func, literal, or_, select, tuple_

from services.inbox import sentiment
from services.inbox.api.deps import ModeratorDep, ReaderDep, ResponderDep, audited
from services.inbox.handling import (
    UNSET,
    add_note,
    find_conversation,
    is_unread,
    moderate,
    request_reply,
    update_conversation,
)
from services.inbox.models import Conversation, Message, Note
from services.inbox.paging import newest_first
from services.inbox.schemas import (
    ConversationDetail,
    ConversationItem,
    ConversationPage,
    ConversationPatch,
    MessageOut,
    ModerationIn,
    NoteIn,
    NoteOut,
    ReplyIn,
)
from services.inbox.sla import OVERDUE, is_overdue
from shared.auth import Principal
from shared.errors import ValidationFailed
from shared.etag import version_etag
from shared.pagination import decode_cursor, encode_cursor
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

# VADER's cut-offs, as SQL conditions on the conversation's latest score; `unknown` is a
# message no scorer covers (its language is known, its feeling is not).
SENTIMENT_FILTERS = {
    "positive": lambda: Conversation.sentiment >= 0.05,
    "negative": lambda: Conversation.sentiment <= -0.05,
    "neutral": lambda: and_(Conversation.sentiment > -0.05, Conversation.sentiment < 0.05),
    "unknown": lambda: Conversation.sentiment.is_(None),
}
# A language filter value: ISO 639-1 (two letters) or a BCP 47 tag, or `unknown`.
LANGUAGE = r"^([a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*|unknown)$"


def _cursor(cursor: str, *, field: str) -> tuple[datetime, UUID]:
    """`decode_cursor`, the refusal naming the query parameter the cursor came in."""
    try:
        decoded = decode_cursor(cursor)
    except ValidationFailed as exc:
        raise ValidationFailed("The cursor is not one this API gave out.", field=field) from exc
    assert decoded is not None
    return decoded


def message_out(message: Message) -> MessageOut:
    out = MessageOut.model_validate(
        {
            **{k: getattr(message, k) for k in MessageOut.model_fields
               if k not in ("sentiment", "sentiment_score")},
            "sentiment": sentiment.label(message.sentiment)
            if message.direction == "inbound" else None,
            "sentiment_score": message.sentiment,
        }
    )
    return out


def item(conversation: Conversation) -> ConversationItem:
    return ConversationItem(
        id=conversation.id,
        network=conversation.network,
        kind=conversation.kind,
        status=conversation.status,
        channel_id=conversation.channel_id,
        post_id=conversation.post_id,
        author=conversation.author,
        last_message_at=conversation.last_message_at,
        sentiment=sentiment.label(conversation.sentiment),
        sentiment_score=conversation.sentiment,
        language=conversation.language,
        priority=conversation.priority,
        tags=list(conversation.tags),
        assignee=conversation.assignee,
        unread=is_unread(conversation),
        overdue=is_overdue(conversation),
    )


@router.get("", response_model=ConversationPage)
async def list_conversations(
    principal: ReaderDep,
    session: SessionDep,
    status: Literal["open", "pending", "resolved"] | None = None,
    network: str | None = None,
    kind: Literal["comment", "mention", "dm"] | None = None,
    channel_id: UUID | None = None,
    post_id: UUID | None = None,
    sentiment: Literal["positive", "neutral", "negative", "unknown"] | None = None,
    language: Annotated[str | None, Query(pattern=LANGUAGE, max_length=35)] = None,
    priority: str | None = None,
    tag: str | None = None,
    assignee: str | None = None,
    unread: bool | None = None,
    overdue: bool | None = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ConversationPage:
    query = select(Conversation).where(Conversation.workspace_id == principal.workspace_id)
    equal = {
        Conversation.status: status,
        Conversation.network: network,
        Conversation.kind: kind,
        Conversation.channel_id: channel_id,
        Conversation.post_id: post_id,
        Conversation.priority: priority,
        Conversation.assignee: assignee,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if sentiment is not None:
        query = query.where(SENTIMENT_FILTERS[sentiment]())
    if language == "unknown":
        query = query.where(Conversation.language.is_(None))
    elif language is not None:
        # `pt-BR` asks for Portuguese: languages are stored as two-letter codes.
        query = query.where(Conversation.language == language.split("-")[0].lower())
    if tag is not None:
        query = query.where(Conversation.tags.contains([tag]))
    if unread is not None:
        unread_sql = and_(
            Conversation.last_inbound_at.is_not(None),
            or_(Conversation.read_at.is_(None),
                Conversation.last_inbound_at > Conversation.read_at),
        )
        query = query.where(unread_sql if unread else ~unread_sql)
    if overdue is not None:
        query = query.where(OVERDUE if overdue else ~OVERDUE)
    if q:
        query = query.where(
            exists().where(
                Message.conversation_id == Conversation.id,
                Message.search.op("@@")(func.plainto_tsquery("simple", q)),
            )
        )
    page, next_cursor = await newest_first(
        session,
        query,
        at=Conversation.last_message_at,
        id_=Conversation.id,
        cursor=cursor,
        limit=limit,
    )
    return ConversationPage(items=[item(c) for c in page], next_cursor=next_cursor)


MESSAGES_PAGE = 100


async def detail(
    session: SessionDep,
    *,
    principal: Principal,
    conversation_id: UUID,
    messages_limit: int = MESSAGES_PAGE,
    messages_cursor: str | None = None,
) -> ConversationDetail:
    """The conversation with one page of its messages, oldest first; `messages_next_cursor`
    continues after the last one shown."""
    conversation = await find_conversation(
        session, principal=principal, conversation_id=conversation_id
    )
    query = select(Message).where(Message.conversation_id == conversation.id)
    if messages_cursor:
        at, id_ = _cursor(messages_cursor, field="messages_cursor")
        query = query.where(tuple_(Message.sent_at, Message.id) > tuple_(literal(at), literal(id_)))
    rows = (
        await session.scalars(
            query.order_by(Message.sent_at, Message.id).limit(messages_limit + 1)
        )
    ).all()
    messages = rows[:messages_limit]
    messages_next = (
        encode_cursor(messages[-1].sent_at, messages[-1].id) if len(rows) > messages_limit
        else None
    )
    notes = (
        await session.scalars(
            select(Note).where(Note.conversation_id == conversation.id).order_by(Note.created_at)
        )
    ).all()
    return ConversationDetail(
        **item(conversation).model_dump(),
        post_external_id=conversation.post_external_id,
        first_message_at=conversation.first_message_at,
        created_at=conversation.created_at,
        first_response_at=conversation.first_response_at,
        resolved_at=conversation.resolved_at,
        version=conversation.version,
        messages=[message_out(m) for m in messages],
        messages_next_cursor=messages_next,
        notes=[NoteOut.model_validate(n, from_attributes=True) for n in notes],
    )


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    conversation_id: UUID,
    principal: ReaderDep,
    session: SessionDep,
    response: Response,
    messages_limit: Annotated[int, Query(ge=1, le=500)] = MESSAGES_PAGE,
    messages_cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ConversationDetail:
    out = await detail(
        session,
        principal=principal,
        conversation_id=conversation_id,
        messages_limit=messages_limit,
        messages_cursor=messages_cursor,
    )
    response.headers["ETag"] = version_etag(out.version)
    return out


IfMatch = Annotated[str | None, Header(alias="If-Match")]


@router.patch(
    "/{conversation_id}",
    response_model=ConversationDetail,
    description="Status, assignee, tags, priority, read. With `If-Match` (the ETag of a "
    "previous GET or PATCH) the change is refused with 412 when the conversation changed "
    "meanwhile, by a teammate or a new message.",
)
async def patch_conversation(
    conversation_id: UUID,
    body: ConversationPatch,
    principal: ResponderDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatch = None,
) -> ConversationDetail:
    await update_conversation(
        session,
        outbox=runtime.outbox,
        principal=principal,
        conversation_id=conversation_id,
        status=body.status,
        assignee=body.assignee if "assignee" in body.model_fields_set else UNSET,
        tags=body.tags,
        priority=body.priority,
        read=body.read,
        if_match=if_match,
    )
    changes = body.model_dump(mode="json", exclude_unset=True)
    await audited(
        session,
        runtime,
        principal,
        "conversation.assigned" if "assignee" in changes else "conversation.updated",
        "conversation",
        conversation_id,
        **changes,
    )
    await session.flush()
    out = await detail(session, principal=principal, conversation_id=conversation_id)
    response.headers["ETag"] = version_etag(out.version)
    return out


@router.post("/{conversation_id}/notes", response_model=NoteOut, status_code=201)
async def post_note(
    conversation_id: UUID, body: NoteIn, principal: ResponderDep, session: SessionDep
) -> NoteOut:
    note = await add_note(
        session, principal=principal, conversation_id=conversation_id, text=body.text
    )
    return NoteOut.model_validate(note, from_attributes=True)


@router.post("/{conversation_id}/replies", response_model=MessageOut, status_code=202)
async def post_reply(
    conversation_id: UUID,
    body: ReplyIn,
    principal: ResponderDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> MessageOut:
    if (body.text is None) == (body.saved_reply_id is None):
        raise ValidationFailed("Give either text or saved_reply_id.", field="text")
    reply = await request_reply(
        session, outbox=runtime.outbox, principal=principal,
        conversation_id=conversation_id, text=body.text, saved_reply_id=body.saved_reply_id,
    )
    await audited(
        session, runtime, principal, "conversation.replied", "conversation", conversation_id,
        message_id=str(reply.id),
    )
    return message_out(reply)


@router.post(
    "/{conversation_id}/messages/{message_id}/moderation",
    response_model=MessageOut,
    status_code=202,
    summary="Hide, unhide or delete an audience comment on its network, or block its author",
)
async def post_moderation(
    conversation_id: UUID,
    message_id: UUID,
    body: ModerationIn,
    principal: ModeratorDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> MessageOut:
    """Emits `comment.moderation_requested`; the message shows `<action>_requested` until the
    network's answer comes back (`hidden`, `visible`, `deleted`, `author_blocked`, or
    `<action>_refused` / `<action>_failed` with the reason). Blocking is offered on Mastodon,
    X and Bluesky; elsewhere it is refused with the network's reason (409)."""
    message = await moderate(
        session, outbox=runtime.outbox, principal=principal,
        conversation_id=conversation_id, message_id=message_id, action=body.action,
    )
    await audited(
        session, runtime, principal, "message.moderated", "message", message_id,
        moderation=body.action, conversation_id=str(conversation_id),
    )
    return message_out(message)
