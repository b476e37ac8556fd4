"""Contests: giveaways drawn from the comments on published posts, verifiably."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from services.inbox import contests
from services.inbox.api.deps import ReaderDep, ResponderDep, SettingsDep, audited
from services.inbox.contest_schemas import (
    ActivityOut,
    ContestIn,
    ContestOut,
    ContestPage,
    ContestRules,
    EntryOut,
    EntryPage,
    Pick,
    WinnerReply,
)
from services.inbox.models import Contest, ContestActivity, ContestEntry
from services.inbox.paging import newest_first
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/contests", tags=["contests"])

CSV_COLUMNS = (
    "position",
    "network",
    "comment_id",
    "author_id",
    "author",
    "sent_at",
    "qualifies",
    "reasons",
    "post_id",
    "message_id",
    "text",
)


def contest_out(contest: Contest) -> ContestOut:
    drawn = contest.status == "drawn"
    return ContestOut(
        id=contest.id,
        name=contest.name,
        post_ids=list(contest.post_ids),
        starts_at=contest.starts_at,
        ends_at=contest.ends_at,
        timezone=contest.timezone,
        draw_at=contest.draw_at,
        winners_count=contest.winners,
        reserves_count=contest.reserves,
        rules=ContestRules.model_validate(contest.rules),
        winner_reply=WinnerReply.model_validate(contest.winner_reply)
        if contest.winner_reply
        else None,
        status=contest.status,  # type: ignore[arg-type]
        commitment=contest.commitment,
        created_by=contest.created_by,
        created_at=contest.created_at,
        closed_at=contest.closed_at,
        drawn_at=contest.drawn_at,
        drawn_by=contest.drawn_by,
        # The seed stays secret until the draw: revealing it earlier would let anyone
        # predict the picks.
        seed=contest.seed if drawn else None,
        entries_digest=contest.entries_digest if drawn else None,
        qualifying=contest.qualifying if drawn else None,
        winners=[Pick.model_validate(w) for w in contest.winner_list] if drawn else None,
        reserves=[Pick.model_validate(w) for w in contest.reserve_list] if drawn else None,
    )


@router.post("", response_model=ContestOut, status_code=201)
async def create_contest(
    body: ContestIn,
    principal: ResponderDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> ContestOut:
    """Returns the `commitment` (hex SHA-256 of the secret seed) now; the seed itself is
    revealed by `GET /v1/contests/{id}` once drawn."""
    contest = await contests.create_contest(
        session,
        outbox=runtime.outbox,
        principal=principal,
        body=body,
        now=datetime.now(UTC),
        draw_delay=timedelta(seconds=settings.contest_draw_delay_seconds),
    )
    await audited(session, runtime, principal, "contest.created", "contest", contest.id)
    return contest_out(contest)


@router.get("", response_model=ContestPage)
async def list_contests(
    principal: ReaderDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ContestPage:
    """The workspace's contests, newest first."""
    query = select(Contest).where(Contest.workspace_id == principal.workspace_id)
    page, next_cursor = await newest_first(
        session, query, at=Contest.created_at, id_=Contest.id, cursor=cursor, limit=limit
    )
    return ContestPage(items=[contest_out(c) for c in page], next_cursor=next_cursor)


@router.get("/{contest_id}", response_model=ContestOut)
async def get_contest(contest_id: UUID, principal: ReaderDep, session: SessionDep) -> ContestOut:
    contest = await contests.find_contest(
        session, workspace_id=principal.workspace_id, contest_id=contest_id
    )
    return contest_out(contest)


@router.post("/{contest_id}/draw", response_model=ContestOut)
async def draw_contest(
    contest_id: UUID, principal: ResponderDep, session: SessionDep, runtime: RuntimeDep
) -> ContestOut:
    """Draws now, by hand, once the entry window has ended (409 before, and after a draw:
    a draw is final)."""
    contest = await contests.find_contest(
        session, workspace_id=principal.workspace_id, contest_id=contest_id, lock=True
    )
    await contests.draw_contest(
        session,
        outbox=runtime.outbox,
        contest=contest,
        actor=principal.principal_id,
        now=datetime.now(UTC),
    )
    await audited(session, runtime, principal, "contest.drawn", "contest", contest.id)
    return contest_out(contest)


@router.get(
    "/{contest_id}/entries",
    response_model=EntryPage,
    responses={200: {"content": {"text/csv": {}}}},
)
async def list_entries(
    contest_id: UUID, request: Request, principal: ReaderDep, session: SessionDep
) -> EntryPage | Response:
    """Every comment on the contest's posts, whether it qualifies and, if not, why. Before
    the draw the rules are applied afresh on each call; after it, this is the list the draw
    was made from. `Accept: text/csv` gives the same as CSV, the file `tools/verify_contest.py`
    reads."""
    contest = await contests.find_contest(
        session, workspace_id=principal.workspace_id, contest_id=contest_id
    )
    if contest.status == "drawn":
        stored = (
            await session.scalars(
                select(ContestEntry)
                .where(ContestEntry.contest_id == contest.id)
                .order_by(ContestEntry.position)
            )
        ).all()
        items = [EntryOut.model_validate(e, from_attributes=True) for e in stored]
    else:
        judged = await contests.judge_contest(session, contest=contest, now=datetime.now(UTC))
        items = [
            EntryOut(
                message_id=j.comment.message_id,
                post_id=j.comment.post_id,
                network=j.comment.network,
                comment_id=j.comment.comment_id,
                author_id=j.comment.author_id,
                author=j.comment.author,
                text=j.comment.text,
                sent_at=j.comment.sent_at,
                qualifies=j.qualifies,
                reasons=list(j.reasons),
            )
            for j in judged
        ]
    page = EntryPage(
        contest_id=contest.id,
        state="drawn" if contest.status == "drawn" else "live",
        total=len(items),
        qualifying=sum(1 for i in items if i.qualifies),
        items=items,
    )
    if _wants_csv(request):
        return _csv(page)
    return page


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == "text/csv" for part in accept.split(","))


def _csv(page: EntryPage) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for position, e in enumerate(page.items):
        writer.writerow(
            [
                position,
                e.network,
                e.comment_id,
                e.author_id,
                e.author or "",
                e.sent_at.isoformat(),
                "yes" if e.qualifies else "no",
                "; ".join(e.reasons),
                e.post_id or "",
                e.message_id,
                e.text,
            ]
        )
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="contest-{page.contest_id}-entries.csv"'
        },
    )


@router.get("/{contest_id}/activity", response_model=list[ActivityOut])
async def contest_activity(
    contest_id: UUID, principal: ReaderDep, session: SessionDep
) -> list[ActivityOut]:
    """The audit trail: created, announced, closed, drawn (with the seed and the picks),
    winners told."""
    contest = await contests.find_contest(
        session, workspace_id=principal.workspace_id, contest_id=contest_id
    )
    rows = (
        await session.scalars(
            select(ContestActivity)
            .where(ContestActivity.contest_id == contest.id)
            .order_by(ContestActivity.id)
        )
    ).all()
    return [ActivityOut.model_validate(a, from_attributes=True) for a in rows]
