"""A workspace's inbox rules and sentiment keywords."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.inbox.api.deps import ReaderDep, RulesDep
from services.inbox.members import require_member
from services.inbox.models import Rule, WorkspaceKeywords
from services.inbox.rules import check_room, compile_rule
from services.inbox.schemas import KeywordIn, KeywordsIn, KeywordsOut, RuleIn, RuleList, RuleOut
from services.inbox.sentiment import fold
from shared.errors import NotFound
from shared.service import SessionDep

router = APIRouter(prefix="/v1/inbox", tags=["inbox rules"])


@router.get("/keywords", response_model=KeywordsOut)
async def get_keywords(principal: ReaderDep, session: SessionDep) -> KeywordsOut:
    row = await session.get(WorkspaceKeywords, principal.workspace_id)
    terms = row.terms if row else {}
    return KeywordsOut(keywords=[KeywordIn(term=t, weight=w) for t, w in sorted(terms.items())])


@router.put("/keywords", response_model=KeywordsOut)
async def put_keywords(body: KeywordsIn, principal: RulesDep, session: SessionDep) -> KeywordsOut:
    """Replaces the workspace's keyword list; new messages are scored with it."""
    terms = {fold(k.term.strip()): k.weight for k in body.keywords if k.term.strip("* ")}
    await session.execute(
        pg_insert(WorkspaceKeywords)
        .values(workspace_id=principal.workspace_id, terms=terms)
        .on_conflict_do_update(index_elements=[WorkspaceKeywords.workspace_id],
                               set_={"terms": terms})
    )
    return KeywordsOut(keywords=[KeywordIn(term=t, weight=w) for t, w in sorted(terms.items())])


def out(rule: Rule) -> RuleOut:
    return RuleOut.model_validate(rule, from_attributes=True)


async def find(session: SessionDep, principal: ReaderDep, rule_id: UUID) -> Rule:
    rule = await session.scalar(
        select(Rule).where(Rule.id == rule_id, Rule.workspace_id == principal.workspace_id)
    )
    if rule is None:
        raise NotFound(f"No rule {rule_id} in this workspace.")
    return rule


@router.get("/rules", response_model=RuleList)
async def list_rules(principal: ReaderDep, session: SessionDep) -> RuleList:
    rows = (
        await session.scalars(
            select(Rule)
            .where(Rule.workspace_id == principal.workspace_id)
            .order_by(Rule.position, Rule.created_at)
        )
    ).all()
    return RuleList(items=[out(r) for r in rows])


@router.post("/rules", response_model=RuleOut, status_code=201)
async def create_rule(body: RuleIn, principal: RulesDep, session: SessionDep) -> RuleOut:
    compile_rule(body.match, body.pattern)
    if body.assignee is not None:
        await require_member(session, workspace_id=principal.workspace_id, assignee=body.assignee)
    await check_room(session, workspace_id=principal.workspace_id, match=body.match)
    rule = Rule(workspace_id=principal.workspace_id, created_by=principal.principal_id,
                **body.model_dump())
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    return out(rule)


@router.get("/rules/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: UUID, principal: ReaderDep, session: SessionDep) -> RuleOut:
    return out(await find(session, principal, rule_id))


@router.put("/rules/{rule_id}", response_model=RuleOut)
async def put_rule(
    rule_id: UUID, body: RuleIn, principal: RulesDep, session: SessionDep
) -> RuleOut:
    compile_rule(body.match, body.pattern)
    if body.assignee is not None:
        await require_member(session, workspace_id=principal.workspace_id, assignee=body.assignee)
    rule = await find(session, principal, rule_id)
    await check_room(
        session, workspace_id=principal.workspace_id, match=body.match, replacing=rule
    )
    for name, value in body.model_dump().items():
        setattr(rule, name, value)
    await session.flush()
    return out(rule)


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: UUID, principal: RulesDep, session: SessionDep) -> Response:
    await session.delete(await find(session, principal, rule_id))
    await session.flush()
    return Response(status_code=204)
