"""Per-workspace rules (keyword or regex → tag, priority, assignee, auto-hide) and keywords.

Applied in the worker as each message is ingested. A workspace's patterns must not stall
ingestion for everyone (catastrophic backtracking), so matching is bounded three ways: a
workspace has at most MAX_RULES rules (MAX_REGEX_RULES of them regexes), each search has a
time limit and one message a total budget, and the matching runs in a worker thread with
the GIL released, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

import regex
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.models import Rule, WorkspaceKeywords
from services.inbox.sentiment import NO_KEYWORDS, Keywords, fold, higher, term_pattern
from shared.errors import Conflict, ValidationFailed

log = logging.getLogger(__name__)

REGEX_TIMEOUT_SECONDS = 0.05
# All of a message's rules together; rules left when it is spent do not match (and are
# logged), so one message costs at most this much matching whatever the rules.
MESSAGE_BUDGET_SECONDS = 0.25
MAX_RULES = 100
MAX_REGEX_RULES = 20


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


def matches(rule: Rule, text: str, *, timeout: float = REGEX_TIMEOUT_SECONDS) -> bool:
    compiled = compile_rule(rule.match, rule.pattern)
    subject = fold(text) if rule.match == "keyword" else text
    try:
        # concurrent: the GIL is let go while matching, so the event loop runs meanwhile.
        found = compiled.search(subject, timeout=timeout, concurrent=True)
    except TimeoutError:
        return False
    return found is not None


async def check_room(
    session: AsyncSession, *, workspace_id: uuid.UUID, match: str, replacing: Rule | None = None
) -> None:
    """Refuses a rule beyond the workspace's limits (409); `replacing` is the rule it updates."""
    # One writer at a time per workspace, so two concurrent creations cannot both fit.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"inbox.rules:{workspace_id}")))
    )
    counts = dict(
        (
            await session.execute(
                select(Rule.match, func.count())
                .where(Rule.workspace_id == workspace_id)
                .where(Rule.id != replacing.id if replacing is not None else True)
                .group_by(Rule.match)
            )
        ).all()
    )
    if sum(counts.values()) >= MAX_RULES:
        raise Conflict(f"A workspace has at most {MAX_RULES} inbox rules.")
    if match == "regex" and counts.get("regex", 0) >= MAX_REGEX_RULES:
        raise Conflict(f"A workspace has at most {MAX_REGEX_RULES} regex rules.")


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


def apply(rules: list[Rule], text: str, *, budget: float = MESSAGE_BUDGET_SECONDS) -> Outcome:
    outcome = Outcome()
    deadline = time.monotonic() + budget
    for position, rule in enumerate(rules):
        left = deadline - time.monotonic()
        if left <= 0:
            log.warning("rule budget spent; %d rules not tried", len(rules) - position)
            break
        if not matches(rule, text, timeout=min(REGEX_TIMEOUT_SECONDS, left)):
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


async def apply_off_loop(rules: list[Rule], text: str) -> Outcome:
    """`apply` in a worker thread: matching never holds up the event loop."""
    if not rules:
        return Outcome()
    return await asyncio.to_thread(apply, rules, text)


async def workspace_keywords(session: AsyncSession, *, workspace_id: uuid.UUID) -> Keywords:
    row = await session.get(WorkspaceKeywords, workspace_id)
    return Keywords.of(row.terms) if row is not None and row.terms else NO_KEYWORDS
