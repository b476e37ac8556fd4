"""Giveaways and contests drawn from the comments on published posts, verifiably.

A contest names published posts (on any networks), an entry window, rules and how many
winners and reserves to draw. At creation a secret seed is chosen and its SHA-256, the
commitment, is returned (and, if asked, posted under each post). At the draw the comments are
judged against the rules, the qualifying ones are put in canonical order and picked with a
generator seeded from the secret and that list (see `draw.py`); the seed is then revealed, so
anyone can recompute the winners (`tools/verify_contest.py`).

The automatic draw runs in the inbox's own due loop (`run_due`), not through the scheduler:
the entries, the rules and the seed all live here, the contest row itself is the durable
timer (its `due_at` survives restarts and is claimed with SKIP LOCKED, so replicas share it),
and a draw needs no other service to be up. `contest.closed` is said at the end time; the
draw follows `draw_delay` later, so comments written in time but delivered late still count.

Who is staff: the workspace's own channel accounts (the brand commenting under its own post)
and the accounts listed in the contest's `rules.staff` (the team's personal accounts, which
no network tells the inbox about).
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import regex
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox import draw, saved_replies
from services.inbox.contest_schemas import ContestIn, ContestRules, WinnerReply
from services.inbox.handling import request_reply, send_as_channel
from services.inbox.models import (
    CONTESTS_CHANNEL,
    Channel,
    Contest,
    ContestActivity,
    ContestEntry,
    Conversation,
    Message,
    PublishedPost,
)
from shared.auth import Principal
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import ContestClosed, ContestDrawn, ContestWinner, Envelope
from shared.networks.rules import NETWORKS
from shared.outbox import Outbox

log = logging.getLogger(__name__)

# Networks whose payloads say when the author's account was created (X sends the user object,
# `created_at` included, with every tweet). Meta's comment webhooks name the author only.
ACCOUNT_AGE_NETWORKS = frozenset({"x"})
# Why a brand cannot direct-message a commenter on some networks (NETWORKS.md, Replying).
DM_REFUSALS = {
    "facebook": "Messenger lets a Page write to a person only within 24 hours of that "
    "person's own message; a comment does not open that window.",
    "instagram": "Instagram allows only a private reply to a comment (within 7 days), which "
    "Herald does not send; reply publicly instead.",
}
DM_NETWORKS = frozenset({"x"})
MENTION = regex.compile(r"(?<![\w@])@([\w.]+)")


# --- creating --------------------------------------------------------------------------------


# How far ahead an entry window may end: a giveaway, not a standing promise.
LONGEST_AHEAD = timedelta(days=366)


def local_to_utc(value: datetime, timezone: str, *, field: str) -> datetime:
    """A time without an offset is the workspace's wall-clock time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValidationFailed("The time is out of range.", field=field) from exc


async def create_contest(
    session: AsyncSession,
    *,
    outbox: Outbox,
    principal: Principal,
    body: ContestIn,
    now: datetime,
    draw_delay: timedelta,
) -> Contest:
    post_ids = list(dict.fromkeys(body.post_ids))
    targets = await _published_targets(
        session, workspace_id=principal.workspace_id, post_ids=post_ids
    )
    starts_at = local_to_utc(body.starts_at, principal.timezone, field="starts_at")
    ends_at = local_to_utc(body.ends_at, principal.timezone, field="ends_at")
    if ends_at <= starts_at:
        raise ValidationFailed("The entry window must end after it starts.", field="ends_at")
    if ends_at <= now:
        # A commitment published after the entries are known proves nothing.
        raise ValidationFailed("The entry window has already ended.", field="ends_at")
    if ends_at - now > LONGEST_AHEAD:
        raise ValidationFailed("The entry window may end at most a year from now.", field="ends_at")
    networks = sorted({t.network for t in targets})
    await _check_rules(session, principal=principal, rules=body.rules, networks=networks)
    if body.winner_reply is not None:
        await _check_winner_reply(
            session, principal=principal, reply=body.winner_reply, networks=networks
        )
    seed = draw.new_seed()
    contest = Contest(
        id=uuid.uuid4(),
        workspace_id=principal.workspace_id,
        name=body.name,
        post_ids=post_ids,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=principal.timezone,
        draw_at=ends_at + draw_delay,
        winners=body.winners,
        reserves=body.reserves,
        rules=body.rules.model_dump(mode="json"),
        winner_reply=body.winner_reply.model_dump(mode="json") if body.winner_reply else None,
        seed=seed,
        commitment=draw.commitment(seed),
        status="open",
        due_at=ends_at,
        created_by=principal.principal_id,
        created_at=now,
    )
    session.add(contest)
    await session.flush()
    await _record(
        session,
        contest=contest,
        actor=principal.principal_id,
        action="created",
        detail={"commitment": contest.commitment},
    )
    if body.announce:
        await _announce(
            session, outbox=outbox, contest=contest, targets=targets, actor=principal.principal_id
        )
    # Wakes the due loop of every replica so it learns this end time.
    await session.execute(text(f"NOTIFY {CONTESTS_CHANNEL}"))
    return contest


async def _published_targets(
    session: AsyncSession, *, workspace_id: uuid.UUID, post_ids: list[uuid.UUID]
) -> list[PublishedPost]:
    targets = (
        await session.scalars(
            select(PublishedPost).where(
                PublishedPost.workspace_id == workspace_id, PublishedPost.post_id.in_(post_ids)
            )
        )
    ).all()
    missing = [str(p) for p in post_ids if p not in {t.post_id for t in targets}]
    if missing:
        raise ValidationFailed(
            f"Not a published post of this workspace: {', '.join(missing)}. A contest runs on "
            "posts that are already on their network.",
            field="post_ids",
        )
    return list(targets)


async def _check_rules(
    session: AsyncSession, *, principal: Principal, rules: ContestRules, networks: list[str]
) -> None:
    if rules.min_account_age_days is not None:
        blind = [n for n in networks if n not in ACCOUNT_AGE_NETWORKS]
        if blind:
            raise ValidationFailed(
                f"{', '.join(blind)} does not tell when a commenter's account was created, so "
                "a minimum account age cannot be checked there (it can on: "
                f"{', '.join(sorted(ACCOUNT_AGE_NETWORKS))}).",
                field="rules.min_account_age_days",
            )
    if rules.keyword is not None and not rules.keyword.strip("#").strip():
        raise ValidationFailed("The keyword is empty.", field="rules.keyword")
    if rules.exclude_winners_of:
        found = set(
            (
                await session.scalars(
                    select(Contest.id).where(
                        Contest.workspace_id == principal.workspace_id,
                        Contest.id.in_(rules.exclude_winners_of),
                    )
                )
            ).all()
        )
        unknown = [str(c) for c in rules.exclude_winners_of if c not in found]
        if unknown:
            raise ValidationFailed(
                f"No contest {', '.join(unknown)} in this workspace.",
                field="rules.exclude_winners_of",
            )


async def _check_winner_reply(
    session: AsyncSession, *, principal: Principal, reply: WinnerReply, networks: list[str]
) -> None:
    try:
        await saved_replies.find(session, principal=principal, reply_id=reply.saved_reply_id)
    except NotFound as exc:
        raise ValidationFailed(str(exc.detail), field="winner_reply.saved_reply_id") from exc
    if reply.via == "dm":
        refused = [n for n in networks if n not in DM_NETWORKS]
        if refused:
            reasons = " ".join(
                DM_REFUSALS.get(n, f"Herald cannot direct-message a commenter on {n}.")
                for n in refused
            )
            raise ValidationFailed(reasons, field="winner_reply.via")


async def _announce(
    session: AsyncSession,
    *,
    outbox: Outbox,
    contest: Contest,
    targets: list[PublishedPost],
    actor: str,
) -> None:
    """Posts the commitment under each post, through the reply path (the publisher sends it
    as the channel's own comment). Each lives in a conversation of its own, already resolved:
    it is the team's statement, not something to answer."""
    text_ = (
        f"Draw commitment for this giveaway (SHA-256 of the secret seed, revealed after "
        f"the draw): {contest.commitment}"
    )
    for target in sorted(targets, key=lambda t: (t.network, t.external_id)):
        channel = await session.get(Channel, target.channel_id)
        if channel is None or channel.status == "disconnected":
            raise Conflict(
                f"The {target.network} channel of post {target.post_id} is not "
                "connected; the commitment cannot be posted there.",
                field="announce",
            )
        reply_id = await _comment_under(
            session,
            outbox=outbox,
            contest=contest,
            target=target,
            channel=channel,
            text_=text_,
            actor=actor,
        )
        await _record(
            session,
            contest=contest,
            actor=actor,
            action="announced",
            detail={
                "network": target.network,
                "post_external_id": target.external_id,
                "reply_id": str(reply_id),
            },
        )


async def _comment_under(
    session: AsyncSession,
    *,
    outbox: Outbox,
    contest: Contest,
    target: PublishedPost,
    channel: Channel,
    text_: str,
    actor: str,
) -> uuid.UUID:
    """The channel's own comment under its post, asked of the publisher like any reply."""
    conversation = Conversation(
        id=uuid.uuid4(),
        workspace_id=contest.workspace_id,
        channel_id=channel.channel_id,
        network=target.network,
        kind="comment",
        thread_key=f"contest:{contest.id}:{target.external_id}",
        status="resolved",
        post_id=target.post_id,
        post_external_id=target.external_id,
        author={"id": channel.external_id, "name": channel.name, "handle": None},
        last_message_at=contest.created_at,
        first_message_at=contest.created_at,
    )
    session.add(conversation)
    await session.flush()
    reply = await send_as_channel(
        session,
        outbox=outbox,
        conversation=conversation,
        channel=channel,
        text=text_,
        sent_by=actor,
        sent_at=contest.created_at,
        in_reply_to=target.external_id,
    )
    return reply.id


async def _record(
    session: AsyncSession, *, contest: Contest, actor: str, action: str, detail: dict[str, Any]
) -> None:
    session.add(ContestActivity(contest_id=contest.id, actor=actor, action=action, detail=detail))
    await session.flush()


async def find_contest(
    session: AsyncSession, *, workspace_id: uuid.UUID, contest_id: uuid.UUID, lock: bool = False
) -> Contest:
    query = select(Contest).where(Contest.id == contest_id, Contest.workspace_id == workspace_id)
    if lock:
        query = query.with_for_update()
    contest = await session.scalar(query)
    if contest is None:
        raise NotFound(f"No contest {contest_id} in this workspace.")
    return contest


# --- judging entries -------------------------------------------------------------------------


@dataclass(frozen=True)
class Comment:
    message_id: uuid.UUID
    post_id: uuid.UUID | None
    conversation_id: uuid.UUID
    network: str
    comment_id: str
    author_id: str
    author_name: str | None
    author_handle: str | None
    author_created_at: datetime | None
    text: str
    sent_at: datetime
    # Where the author's own words begin (X puts the replied-to handles before them).
    text_start: int = 0

    @property
    def author(self) -> str | None:
        return self.author_handle or self.author_name

    @property
    def own_words(self) -> str:
        return self.text[self.text_start :]


@dataclass(frozen=True)
class Judged:
    comment: Comment
    reasons: tuple[str, ...]

    @property
    def qualifies(self) -> bool:
        return not self.reasons


@functools.lru_cache(maxsize=65536)
def person_key(value: str | None) -> str:
    """How one person is recognised across networks: the letters and digits of their handle
    or name, case ignored ("Anna Berg" on Facebook is `annaberg` on Instagram)."""
    return "".join(c for c in (value or "").casefold() if c.isalnum())


@dataclass(frozen=True)
class Accounts:
    """A list of accounts (staff, blocked, earlier winners) to match comment authors against."""

    ids: frozenset[tuple[str | None, str]]
    keys: frozenset[tuple[str | None, str]]

    @classmethod
    def parse(cls, entries: list[str]) -> Accounts:
        ids: set[tuple[str | None, str]] = set()
        keys: set[tuple[str | None, str]] = set()
        for entry in entries:
            network, _, rest = entry.partition(":")
            scope: str | None = network.lower() if rest and network.lower() in NETWORKS else None
            value = (rest if scope else entry).strip().lstrip("@")
            ids.add((scope, value))
            if person_key(value):
                keys.add((scope, person_key(value)))
        return cls(frozenset(ids), frozenset(keys))

    def matches(self, comment: Comment) -> bool:
        if not self.ids:
            return False
        keys = [
            k for k in (person_key(comment.author_handle), person_key(comment.author_name)) if k
        ]
        for scope in (None, comment.network):
            if (scope, comment.author_id) in self.ids:
                return True
            if any((scope, key) in self.keys for key in keys):
                return True
        return False


def mentioned(text_: str, *, exclude: set[str]) -> set[str]:
    return {m.casefold() for m in MENTION.findall(text_)} - exclude


def keyword_pattern(keyword: str) -> regex.Pattern[str]:
    """The keyword as a whole word; a plain word also matches its #hashtag, a hashtag only
    itself."""
    word = regex.escape(keyword.casefold())
    before = r"(?<![\w#])" if keyword.startswith("#") else r"(?<!\w)"
    return regex.compile(rf"{before}{word}(?!\w)")


def has_keyword(text_: str, pattern: regex.Pattern[str]) -> bool:
    return pattern.search(text_.casefold()) is not None


def judge(
    comments: list[Comment],
    *,
    rules: ContestRules,
    starts_at: datetime,
    ends_at: datetime,
    own_accounts: set[tuple[str, str]],
    earlier_winners: list[Comment],
    now: datetime,
) -> list[Judged]:
    """Every comment with the rules it breaks, in the order they were written.

    The window includes its start and excludes its end: for a draw "on Friday at 12:00" a
    comment stamped 12:00:00 is late. Networks stamp comments to the second, so this judges
    them exactly whenever the end is a whole second."""
    staff = Accounts.parse(rules.staff)
    blocked = Accounts.parse(rules.blocked)
    staff_handles = {v.casefold() for _, v in staff.ids}
    keyword = keyword_pattern(rules.keyword) if rules.keyword else None
    judged: list[Judged] = []
    for c in sorted(comments, key=lambda c: (c.sent_at, c.network, c.comment_id)):
        reasons: list[str] = []
        if c.sent_at < starts_at:
            reasons.append("window: written before the entry window opened")
        elif c.sent_at >= ends_at:
            reasons.append("window: written after the entry window closed")
        if rules.exclude_staff and ((c.network, c.author_id) in own_accounts or staff.matches(c)):
            reasons.append("staff: a workspace member's account")
        if blocked.matches(c):
            reasons.append("blocked: the author is on the block list")
        if keyword is not None and not has_keyword(c.own_words, keyword):
            reasons.append(f"keyword: does not contain {rules.keyword}")
        if rules.mentions:
            own = {(c.author_handle or "").casefold()} | staff_handles
            count = len(mentioned(c.own_words, exclude=own))
            if count < rules.mentions:
                reasons.append(
                    f"mentions: mentions {count} other account(s), {rules.mentions} needed"
                )
        if rules.min_account_age_days is not None:
            if c.author_created_at is None:
                reasons.append("account_age: the network did not say when the account was created")
            elif now - c.author_created_at < timedelta(days=rules.min_account_age_days):
                reasons.append(
                    f"account_age: account younger than {rules.min_account_age_days} days"
                )
        judged.append(Judged(c, tuple(reasons)))
    return _one_per_author(judged, rules=rules, earlier_winners=earlier_winners)


def _one_per_author(
    judged: list[Judged], *, rules: ContestRules, earlier_winners: list[Comment]
) -> list[Judged]:
    """Marks earlier winners, and every qualifying comment after an author's first one.

    One author is the same account id on one network, or the same name (`person_key`) on
    another network. The same name on the same network with a different id is another
    person (two Facebook users may both be "Anna Berg")."""
    won_ids = {(w.network, w.author_id) for w in earlier_winners}
    won_keys = {(person_key(w.author), w.network) for w in earlier_winners if person_key(w.author)}
    seen_ids: set[tuple[str, str]] = set()
    seen_keys: dict[str, set[str]] = {}
    out: list[Judged] = []
    for j in judged:
        c = j.comment
        key = person_key(c.author)
        reasons = list(j.reasons)
        if won_ids or won_keys:
            other_network = any(k == key and n != c.network for k, n in won_keys)
            if (c.network, c.author_id) in won_ids or (key and other_network):
                reasons.append("earlier_winner: won an earlier contest of this series")
        if not reasons and rules.one_entry_per_author:
            elsewhere = key and any(n != c.network for n in seen_keys.get(key, ()))
            if (c.network, c.author_id) in seen_ids or elsewhere:
                reasons.append("duplicate: the author already entered")
            else:
                seen_ids.add((c.network, c.author_id))
                if key:
                    seen_keys.setdefault(key, set()).add(c.network)
        out.append(Judged(c, tuple(reasons)))
    return out


async def comments_of(session: AsyncSession, *, contest: Contest) -> list[Comment]:
    rows = (
        await session.execute(
            select(Message, Conversation.post_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.workspace_id == contest.workspace_id,
                Conversation.post_id.in_(contest.post_ids),
                Message.direction == "inbound",
                Message.kind == "comment",
                Message.external_id.is_not(None),
            )
        )
    ).all()
    return [
        Comment(
            message_id=m.id,
            post_id=post_id,
            conversation_id=m.conversation_id,
            network=m.network,
            comment_id=m.external_id or "",
            author_id=m.author_id or "",
            author_name=m.author_name,
            author_handle=m.author_handle,
            author_created_at=m.author_created_at,
            text=m.text,
            text_start=m.text_start,
            sent_at=m.sent_at,
        )
        for m, post_id in rows
    ]


async def judge_contest(session: AsyncSession, *, contest: Contest, now: datetime) -> list[Judged]:
    rules = ContestRules.model_validate(contest.rules)
    rows = await session.execute(
        select(Channel.network, Channel.external_id).where(
            Channel.workspace_id == contest.workspace_id
        )
    )
    own = {(network, external_id) for network, external_id in rows}
    earlier: list[Comment] = []
    if rules.exclude_winners_of:
        lists = (
            await session.scalars(
                select(Contest.winner_list).where(
                    Contest.workspace_id == contest.workspace_id,
                    Contest.id.in_(rules.exclude_winners_of),
                )
            )
        ).all()
        earlier = [_winner_as_comment(w) for winners in lists for w in winners]
    return judge(
        await comments_of(session, contest=contest),
        rules=rules,
        starts_at=contest.starts_at,
        ends_at=contest.ends_at,
        own_accounts=own,
        earlier_winners=earlier,
        now=now,
    )


def _winner_as_comment(w: dict[str, Any]) -> Comment:
    return Comment(
        message_id=uuid.UUID(w["message_id"]),
        post_id=None,
        conversation_id=uuid.UUID(int=0),
        network=w["network"],
        comment_id=w["comment_id"],
        author_id=w["author_id"],
        author_name=w.get("author"),
        author_handle=None,
        author_created_at=None,
        text="",
        sent_at=datetime.min.replace(tzinfo=UTC),
    )


# --- closing and drawing ---------------------------------------------------------------------


async def close(session: AsyncSession, *, outbox: Outbox, contest: Contest, now: datetime) -> None:
    """The entry window is over: said once, with when the draw will follow."""
    if contest.status != "open":
        return
    contest.status = "closed"
    contest.closed_at = now
    contest.due_at = contest.draw_at
    await _record(session, contest=contest, actor="system", action="closed", detail={})
    await outbox.add(
        session,
        Envelope.of(
            ContestClosed(
                contest_id=contest.id,
                name=contest.name,
                post_ids=contest.post_ids,
                ends_at=contest.ends_at,
                draw_at=contest.draw_at,
            ),
            workspace_id=contest.workspace_id,
        ),
    )


def _pick_of(place: int, c: Comment) -> dict[str, Any]:
    return {
        "place": place,
        "network": c.network,
        "comment_id": c.comment_id,
        "author_id": c.author_id,
        "author": c.author,
        "message_id": str(c.message_id),
    }


async def draw_contest(
    session: AsyncSession, *, outbox: Outbox, contest: Contest, actor: str, now: datetime
) -> Contest:
    """Judges the comments, draws, reveals the seed and tells the winners. `contest` is
    locked by the caller."""
    if contest.status == "drawn":
        raise Conflict("This contest has been drawn already; a draw is final.", field="id")
    if now < contest.ends_at:
        raise Conflict(
            f"The entry window is open until {contest.ends_at.isoformat()}.", field="ends_at"
        )
    await close(session, outbox=outbox, contest=contest, now=now)
    judged = await judge_contest(session, contest=contest, now=now)
    qualifying = {
        draw.entry_line(
            network=j.comment.network,
            comment_id=j.comment.comment_id,
            author_id=j.comment.author_id,
        ): j.comment
        for j in judged
        if j.qualifies
    }
    lines = list(qualifying)
    picks = draw.pick(seed=contest.seed, lines=lines, count=contest.winners + contest.reserves)
    chosen = [qualifying[line] for line in picks]
    _keep_entries(session, contest=contest, judged=judged)
    contest.winner_list = [_pick_of(i + 1, c) for i, c in enumerate(chosen[: contest.winners])]
    contest.reserve_list = [_pick_of(i + 1, c) for i, c in enumerate(chosen[contest.winners :])]
    contest.entries_digest = draw.entries_digest(lines)
    contest.qualifying = len(lines)
    contest.status = "drawn"
    contest.drawn_at = now
    contest.drawn_by = actor
    await _record(
        session,
        contest=contest,
        actor=actor,
        action="drawn",
        detail={
            "seed": contest.seed,
            "entries_digest": contest.entries_digest,
            "qualifying": len(lines),
            "total": len(judged),
            "winners": contest.winner_list,
            "reserves": contest.reserve_list,
        },
    )
    await _say_drawn(session, outbox=outbox, contest=contest)
    if contest.winner_reply:
        await _tell_winners(
            session, outbox=outbox, contest=contest, winners=chosen[: contest.winners], actor=actor
        )
    return contest


def _keep_entries(session: AsyncSession, *, contest: Contest, judged: list[Judged]) -> None:
    """The list as it stood at the draw: what the entries endpoint serves from now on."""
    for position, j in enumerate(judged):
        c = j.comment
        session.add(
            ContestEntry(
                contest_id=contest.id,
                message_id=c.message_id,
                position=position,
                post_id=c.post_id,
                network=c.network,
                comment_id=c.comment_id,
                author_id=c.author_id,
                author=c.author,
                text=c.text,
                sent_at=c.sent_at,
                qualifies=j.qualifies,
                reasons=list(j.reasons),
            )
        )


async def _say_drawn(session: AsyncSession, *, outbox: Outbox, contest: Contest) -> None:
    await outbox.add(
        session,
        Envelope.of(
            ContestDrawn(
                contest_id=contest.id,
                name=contest.name,
                commitment=contest.commitment,
                seed=contest.seed,
                entries_digest=contest.entries_digest,
                qualifying=contest.qualifying or 0,
                winners=[ContestWinner.model_validate(w) for w in contest.winner_list],
                reserves=[ContestWinner.model_validate(w) for w in contest.reserve_list],
                drawn_at=contest.drawn_at,
                drawn_by=contest.drawn_by,
            ),
            workspace_id=contest.workspace_id,
        ),
    )


async def _tell_winners(
    session: AsyncSession,
    *,
    outbox: Outbox,
    contest: Contest,
    winners: list[Comment],
    actor: str,
) -> None:
    """Through the inbox's reply path, with the contest's saved reply. A winner who cannot be
    told (channel disconnected, saved reply deleted) is recorded, and the draw stands."""
    reply = WinnerReply.model_validate(contest.winner_reply)
    principal = Principal(workspace_id=contest.workspace_id, role="admin", principal_id=actor)
    # The draw is flushed first: a savepoint rolled back for one winner must not take it along.
    await session.flush()
    failed = False
    for place, winner in enumerate(winners, start=1):
        try:
            async with session.begin_nested():
                if reply.via == "dm":
                    sent = await _direct_message(
                        session, outbox=outbox, principal=principal, winner=winner, reply=reply
                    )
                else:
                    sent = await request_reply(
                        session,
                        outbox=outbox,
                        principal=principal,
                        conversation_id=winner.conversation_id,
                        saved_reply_id=reply.saved_reply_id,
                    )
        except (Conflict, NotFound, ValidationFailed) as exc:
            failed = True
            await _record(
                session,
                contest=contest,
                actor=actor,
                action="winner_not_told",
                detail={"place": place, "message_id": str(winner.message_id), "reason": exc.detail},
            )
            continue
        await _record(
            session,
            contest=contest,
            actor=actor,
            action="winner_told",
            detail={
                "place": place,
                "message_id": str(winner.message_id),
                "reply_id": str(sent.id),
                "via": reply.via,
            },
        )
    if failed:
        # A rolled-back savepoint expires what it touched; read the contest back.
        await session.refresh(contest)


async def _direct_message(
    session: AsyncSession,
    *,
    outbox: Outbox,
    principal: Principal,
    winner: Comment,
    reply: WinnerReply,
) -> Message:
    """A direct message to the author of the winning comment, kept in that comment's thread."""
    conversation = await session.get(Conversation, winner.conversation_id, with_for_update=True)
    if conversation is None:
        raise NotFound("The winning comment's conversation is gone.")
    channel = await session.get(Channel, conversation.channel_id)
    if channel is None or channel.status == "disconnected":
        raise Conflict(
            "The channel of the winning comment is no longer connected.", field="channel_id"
        )
    saved = await saved_replies.find(session, principal=principal, reply_id=reply.saved_reply_id)
    text_ = saved_replies.render(
        saved.text,
        saved_replies.variables_for(
            conversation=conversation, channel=channel, principal=principal
        ),
    )
    message = await send_as_channel(
        session,
        outbox=outbox,
        conversation=conversation,
        channel=channel,
        text=text_,
        sent_by=principal.principal_id,
        sent_at=datetime.now(UTC),
        in_reply_to=None,
        recipient_id=winner.author_id,
        kind="dm",
    )
    conversation.version += 1
    return message


async def run_due(
    session: AsyncSession, *, outbox: Outbox, now: datetime, retry: timedelta
) -> bool:
    """Closes or draws one contest whose time has come; False when none is due.

    One contest per transaction: a draw that fails is put off by `retry` (recorded in its
    trail) instead of holding back the others."""
    contest = await session.scalar(
        select(Contest)
        .where(Contest.status != "drawn", Contest.due_at <= now)
        .order_by(Contest.due_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if contest is None:
        return False
    contest_id = contest.id
    await session.flush()
    try:
        async with session.begin_nested():
            if contest.status == "open" and now < contest.draw_at:
                await close(session, outbox=outbox, contest=contest, now=now)
            else:
                await draw_contest(
                    session, outbox=outbox, contest=contest, actor="schedule", now=now
                )
    except Exception as exc:  # noqa: BLE001  (kept with the contest; retried later)
        log.exception("contest %s: automatic step failed", contest_id)
        await session.refresh(contest)
        contest.due_at = now + retry
        await _record(
            session,
            contest=contest,
            actor="schedule",
            action="draw_failed",
            detail={"error": f"{type(exc).__name__}: {exc}"},
        )
    return True


async def next_due(session: AsyncSession) -> datetime | None:
    due: datetime | None = await session.scalar(
        select(func.min(Contest.due_at)).where(Contest.status != "drawn")
    )
    return due
