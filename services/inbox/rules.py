"""Per-workspace rules (keyword or regex → tag, priority, assignee, auto-hide) and keywords.

Applied in the worker as each message is ingested. Regexes run with a time limit: a
workspace's pattern must not stall ingestion for everyone (catastrophic backtracking).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import regex
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.models import Rule, WorkspaceKeywords
from services.inbox.sentiment import NO_KEYWORDS, Keywords, fold, higher, term_pattern
from shared.errors import ValidationFailed

REGEX_TIMEOUT_SECONDS = 0.05


def compile_rule(match: str, pattern: str) -> regex.Pattern[str]:
    if match == "keyword":
        # A comma-separated list of terms; any of them matches.
        terms = [t for t in (p.strip() for p in pattern.split(",")) if t]
        if not terms:
            raise ValidationFailed("A keyword rule needs at least one term.", field="pattern")
        return regex.compile("|".join(term_pattern(t) for t in terms))
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.V1)
    except regex.error as exc:
        raise ValidationFailed(f"Not a valid regular expression: {exc}.",
                               field="pattern") from exc


@dataclass
class Outcome:
    """What the matching rules want done to a message and its conversation."""

    rule_ids: list[uuid.UUID] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    priority: str | None = None
    assignee: str | None = None
    hide_by: uuid.UUID | None = None


def matches(rule: Rule, text: str) -> bool:
    compiled = compile_rule(rule.match, rule.pattern)
    subject = fold(text) if rule.match == "keyword" else text
    try:
        return compiled.search(subject, timeout=REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        return False


async def workspace_rules(session: AsyncSession, *, workspace_id: uuid.UUID) -> list[Rule]:
    return list(
        (
            await session.scalars(
                select(Rule)
                .where(Rule.workspace_id == workspace_id, Rule.enabled.is_(True))
                .order_by(Rule.position, Rule.created_at)
            )
        ).all()
    )


def apply(rules: list[Rule], text: str) -> Outcome:
    outcome = Outcome()
    for rule in rules:
        if not matches(rule, text):
            continue
        outcome.rule_ids.append(rule.id)
        outcome.tags += [t for t in rule.tags if t not in outcome.tags]
        if rule.priority:
            outcome.priority = higher(outcome.priority, rule.priority)
        # The first matching rule that names an assignee wins.
        if rule.assignee and outcome.assignee is None:
            outcome.assignee = rule.assignee
        if rule.hide and outcome.hide_by is None:
            outcome.hide_by = rule.id
    return outcome


async def workspace_keywords(session: AsyncSession, *, workspace_id: uuid.UUID) -> Keywords:
    row = await session.get(WorkspaceKeywords, workspace_id)
    return Keywords.of(row.terms) if row is not None and row.terms else NO_KEYWORDS
