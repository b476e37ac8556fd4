"""Threading messages into conversations and linking them to the Herald posts they answer."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox import rules, sentiment
from services.inbox.handling import can_moderate, request_moderation
from services.inbox.models import (
    Activity,
    Channel,
    Conversation,
    Message,
    Note,
    PublishedPost,
)
from services.inbox.normalise import Item
from services.inbox.scorers import Reading
from shared.events import ConversationOpened, Envelope, MessageReceived
from shared.outbox import Outbox


async def ingest_item(
    session: AsyncSession,
    *,
    outbox: Outbox,
    channel: Channel,
    item: Item,
    reading: Reading,
    receipt_id: int | None,
) -> uuid.UUID | None:
    """Stores one audience message in its conversation, with the language and sentiment
    `reading` found; None when it was already there."""
    known = await session.scalar(
        select(Message.id).where(
            Message.channel_id == channel.channel_id, Message.external_id == item.external_id
        )
    )
    if known is not None:
        return None
    item = _storable(item)
    conversation, opened = await _conversation_for(session, channel=channel, item=item)
    keywords = await rules.workspace_keywords(session, workspace_id=channel.workspace_id)
    # The workspace's own words come last and take precedence over the scorer's.
    score = sentiment.combine(reading.raw, text=item.text, keywords=keywords)
    outcome = await rules.apply_off_loop(
        await rules.workspace_rules(session, workspace_id=channel.workspace_id), item.text
    )
    message_id = await _insert_message(
        session,
        conversation=conversation,
        channel=channel,
        item=item,
        language=reading.language,
        score=score,
        receipt_id=receipt_id,
    )
    if message_id is None:
        return None
    # Locked: concurrent workers may add to the same thread; tags and priority merge.
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert conversation is not None
    _note_message(conversation, item=item, language=reading.language, score=score)
    # Replies that arrived before this message (out of order) opened threads of their own;
    # they belong here.
    await _adopt_orphans(session, conversation=conversation, item=item)
    await _follow_rules(
        session,
        outbox=outbox,
        conversation=conversation,
        channel=channel,
        item=item,
        score=score,
        outcome=outcome,
        message_id=message_id,
    )
    await session.flush()
    await _announce(
        session,
        outbox=outbox,
        conversation=conversation,
        channel=channel,
        item=item,
        language=reading.language,
        score=score,
        message_id=message_id,
        opened=opened,
    )
    return message_id


async def _insert_message(
    session: AsyncSession,
    *,
    conversation: Conversation,
    channel: Channel,
    item: Item,
    language: str | None,
    score: float | None,
    receipt_id: int | None,
) -> uuid.UUID | None:
    """The message's row; None when a concurrent worker stored it first."""
    message_id: uuid.UUID | None = await session.scalar(
        pg_insert(Message)
        .values(
            id=uuid.uuid4(),
            conversation_id=conversation.id,
            workspace_id=channel.workspace_id,
            channel_id=channel.channel_id,
            network=channel.network,
            kind=item.kind,
            direction="inbound",
            external_id=item.external_id,
            parent_external_id=item.parent_external_id,
            author_id=item.author_id,
            author_name=item.author_name,
            author_handle=item.author_handle,
            author_created_at=item.author_created_at,
            text=item.text,
            text_start=item.text_start,
            language=language,
            sentiment=score,
            sent_at=item.sent_at,
            receipt_id=receipt_id,
            search=func.to_tsvector("simple", item.text),
        )
        .on_conflict_do_nothing(index_elements=[Message.channel_id, Message.external_id])
        .returning(Message.id)
    )
    return message_id


def _note_message(
    conversation: Conversation, *, item: Item, language: str | None, score: float | None
) -> None:
    """The thread's times, mood and status after a new message."""
    # The thread's mood is its latest message's, by when it was written: a late delivery of
    # an older message does not overwrite it.
    if item.sent_at >= conversation.last_message_at:
        conversation.sentiment = score
        conversation.language = language
    conversation.last_message_at = max(conversation.last_message_at, item.sent_at)
    conversation.first_message_at = min(conversation.first_message_at, item.sent_at)
    # Arrival, not the network's timestamp: a late delivery of an old comment is still news
    # to the team (the unread filter compares this with when the thread was last read).
    conversation.last_inbound_at = datetime.now(UTC)
    conversation.version += 1
    # Someone wrote again: a resolved conversation needs attention again.
    conversation.status = "open"


async def _follow_rules(
    session: AsyncSession,
    *,
    outbox: Outbox,
    conversation: Conversation,
    channel: Channel,
    item: Item,
    score: float | None,
    outcome: rules.Outcome,
    message_id: uuid.UUID,
) -> None:
    """Priority, tags, assignee and hiding: what the sentiment and the workspace's rules ask."""
    # Automatic priority only ever raises: a person's choice is not undone by a message.
    conversation.priority = sentiment.higher(
        conversation.priority,
        sentiment.higher(
            sentiment.priority_for(
                score,
                high_below=sentiment.PRIORITY_HIGH_BELOW,
                urgent_below=sentiment.PRIORITY_URGENT_BELOW,
            ),
            outcome.priority,
        ),
    )
    new_tags = [t for t in outcome.tags if t not in conversation.tags]
    if new_tags:
        conversation.tags = [*conversation.tags, *new_tags]
    if conversation.assignee is None and outcome.assignee:
        conversation.assignee = outcome.assignee
    if outcome.rule_ids:
        session.add(
            Activity(
                conversation_id=conversation.id,
                actor="rules",
                action="rules",
                detail={
                    "message_id": str(message_id),
                    "rules": [str(r) for r in outcome.rule_ids],
                },
            )
        )
    if (
        outcome.hide_by is not None
        and item.kind == "comment"
        and can_moderate(channel.network, "hide")
    ):
        message = await session.get(Message, message_id)
        assert message is not None
        await request_moderation(
            session,
            outbox=outbox,
            message=message,
            action="hide",
            requested_by=f"rule:{outcome.hide_by}",
        )


async def _announce(
    session: AsyncSession,
    *,
    outbox: Outbox,
    conversation: Conversation,
    channel: Channel,
    item: Item,
    language: str | None,
    score: float | None,
    message_id: uuid.UUID,
    opened: bool,
) -> None:
    if opened:
        await outbox.add(
            session,
            Envelope.of(
                ConversationOpened(
                    conversation_id=conversation.id,
                    channel_id=channel.channel_id,
                    post_id=conversation.post_id,
                    network=channel.network,
                    kind=item.kind,
                    opened_at=datetime.now(UTC),
                ),
                workspace_id=channel.workspace_id,
            ),
        )
    await outbox.add(
        session,
        Envelope.of(
            MessageReceived(
                message_id=message_id,
                conversation_id=conversation.id,
                channel_id=channel.channel_id,
                post_id=conversation.post_id,
                network=channel.network,
                kind=item.kind,
                sentiment=score,
                language=language,
                received_at=datetime.now(UTC),
            ),
            workspace_id=channel.workspace_id,
        ),
    )


def _storable(item: Item) -> Item:
    """PostgreSQL text cannot hold NUL characters, which JSON can carry (`\\u0000`); a
    message with one would fail to store on every retry. They carry nothing: dropped."""
    def clean(value: str | None) -> str | None:
        return value.replace("\x00", "") if value else value

    if not any(v and "\x00" in v for v in (item.text, item.author_name, item.author_handle)):
        return item
    return dataclasses.replace(
        item,
        text=item.text.replace("\x00", ""),
        author_name=clean(item.author_name),
        author_handle=clean(item.author_handle),
    )


async def _conversation_for(
    session: AsyncSession, *, channel: Channel, item: Item
) -> tuple[Conversation, bool]:
    """The item's conversation, and whether this item opened it."""
    if item.parent_external_id:
        # A reply to a message we hold (theirs or ours) continues that thread.
        parent = await session.scalar(
            select(Conversation)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(
                Message.channel_id == channel.channel_id,
                Message.external_id == item.parent_external_id,
            )
        )
        if parent is not None:
            return parent, False
    thread_key = f"dm:{item.partner_id}" if item.kind == "dm" else f"{item.kind}:{item.external_id}"
    post_id = None
    if item.post_external_id:
        post_id = await session.scalar(
            select(PublishedPost.post_id).where(
                PublishedPost.network == channel.network,
                PublishedPost.external_id == item.post_external_id,
                PublishedPost.workspace_id == channel.workspace_id,
            )
        )
    opened = await session.scalar(
        pg_insert(Conversation)
        .values(
            id=uuid.uuid4(),
            workspace_id=channel.workspace_id,
            channel_id=channel.channel_id,
            network=channel.network,
            kind=item.kind,
            thread_key=thread_key,
            post_id=post_id,
            post_external_id=item.post_external_id,
            author={"id": item.author_id, "name": item.author_name, "handle": item.author_handle},
            last_message_at=item.sent_at,
            first_message_at=item.sent_at,
        )
        .on_conflict_do_nothing(index_elements=[Conversation.channel_id, Conversation.thread_key])
        .returning(Conversation.id)
    )
    conversation = await session.scalar(
        select(Conversation).where(
            Conversation.channel_id == channel.channel_id, Conversation.thread_key == thread_key
        )
    )
    assert conversation is not None
    return conversation, opened is not None


async def _adopt_orphans(session: AsyncSession, *, conversation: Conversation, item: Item) -> None:
    """Folds the conversations opened by replies to `item` (delivered before it) into its own.

    Whatever order a thread's messages arrive in, they end up in one conversation: the one the
    earliest-delivered message opened, with the thread's first author and time.
    """
    if item.kind == "dm":
        return
    orphans = (
        await session.scalars(
            select(Conversation)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(
                Message.channel_id == conversation.channel_id,
                Message.parent_external_id == item.external_id,
                Conversation.id != conversation.id,
            )
            .with_for_update(of=Conversation)
        )
    ).all()
    if not orphans:
        return
    for orphan in {o.id: o for o in orphans}.values():
        for table in (Message, Note, Activity):
            await session.execute(
                update(table)
                .where(table.conversation_id == orphan.id)
                .values(conversation_id=conversation.id)
            )
        if orphan.last_message_at > conversation.last_message_at:
            conversation.sentiment = orphan.sentiment
            conversation.language = orphan.language
        conversation.last_message_at = max(conversation.last_message_at, orphan.last_message_at)
        conversation.first_message_at = min(
            conversation.first_message_at, orphan.first_message_at
        )
        conversation.tags = [*conversation.tags, *(t for t in orphan.tags
                                                   if t not in conversation.tags)]
        conversation.priority = sentiment.higher(conversation.priority, orphan.priority)
        conversation.assignee = conversation.assignee or orphan.assignee
        conversation.post_id = conversation.post_id or orphan.post_id
        conversation.post_external_id = (
            conversation.post_external_id or orphan.post_external_id
        )
        if orphan.first_response_at is not None:
            conversation.first_response_at = min(
                d for d in (conversation.first_response_at, orphan.first_response_at) if d
            )
        await session.delete(orphan)
    if conversation.thread_key == f"{item.kind}:{item.external_id}":
        # The thread now starts with this message: its author is the conversation's.
        conversation.author = {"id": item.author_id, "name": item.author_name,
                               "handle": item.author_handle}
    await session.flush()


async def link_post(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    network: str,
    external_id: str,
    post_id: uuid.UUID,
) -> None:
    """Conversations that arrived before their post's `post.published` get linked now."""
    await session.execute(
        update(Conversation)
        .where(
            Conversation.workspace_id == workspace_id,
            Conversation.network == network,
            Conversation.post_external_id == external_id,
            Conversation.post_id.is_(None),
        )
        .values(post_id=post_id, version=Conversation.version + 1)
    )
