"""Rate-limit budgets per token (and per app), kept in PostgreSQL so every replica spends from
the same purse. Publishing, replying, polling and insight fetches all spend; a call that would
overspend is not made: the caller learns how long until the window frees and waits."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.models import RateSpend
from services.publisher.settings import BudgetRule, PublisherSettings
from shared.db import unit_of_work
from shared.service import Runtime

Action = Literal["post", "reply", "read"]

# The networks' documented caps (NETWORKS.md). `scope` "token" is per connected account.
DEFAULT_BUDGETS: dict[str, list[BudgetRule]] = {
    "instagram": [BudgetRule(name="posts", limit=50, window_seconds=86400, actions=["post"])],
    "threads": [
        BudgetRule(name="posts", limit=250, window_seconds=86400, actions=["post"]),
        BudgetRule(name="replies", limit=1000, window_seconds=86400, actions=["reply"]),
    ],
    "x": [
        BudgetRule(name="tweets", limit=100, window_seconds=900, actions=["post", "reply"]),
        BudgetRule(
            name="tweets-app",
            limit=10_000,
            window_seconds=86400,
            actions=["post", "reply"],
            scope="app",
        ),
    ],
    "mastodon": [
        BudgetRule(
            name="requests", limit=300, window_seconds=300, actions=["post", "reply", "read"]
        ),
    ],
    "bluesky": [
        # Writes cost 3 points of 5,000 an hour; reads share the general 3,000 per 5 min.
        BudgetRule(
            name="write-points", limit=5000, window_seconds=3600, actions=["post", "reply"], cost=3
        ),
        BudgetRule(
            name="requests", limit=3000, window_seconds=300, actions=["post", "reply", "read"]
        ),
    ],
    "linkedin": [BudgetRule(name="posts", limit=150, window_seconds=86400, actions=["post"])],
    "tiktok": [BudgetRule(name="video-init", limit=6, window_seconds=60, actions=["post"])],
}


def budget_key(network: str, rule: BudgetRule, channel_id: uuid.UUID) -> str:
    owner = "app" if rule.scope == "app" else str(channel_id)
    return f"{network}:{rule.name}:{owner}"


async def spend(
    session: AsyncSession,
    *,
    network: str,
    channel_id: uuid.UUID,
    action: Action,
    rules: list[BudgetRule],
    now: datetime | None = None,
) -> float:
    """Spends from every budget the action draws on, all or nothing. Returns 0 when spent,
    or the seconds until all of them could pay (nothing is spent then)."""
    now = now or datetime.now(UTC)
    applicable = sorted(
        ((budget_key(network, r, channel_id), r) for r in rules if action in r.actions),
        key=lambda pair: pair[0],
    )
    wait = 0.0
    for key, rule in applicable:  # sorted keys: replicas lock in the same order
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
        window = timedelta(seconds=rule.window_seconds)
        await session.execute(
            delete(RateSpend).where(RateSpend.budget_key == key, RateSpend.spent_at <= now - window)
        )
        # Summed in the database: an app-wide budget (X's 10,000 a day) holds thousands of
        # rows, and every replica's every call passes through here under the lock.
        used = await session.scalar(
            select(func.coalesce(func.sum(RateSpend.cost), 0)).where(RateSpend.budget_key == key)
        )
        over = int(used or 0) + rule.cost - rule.limit
        if over <= 0:
            continue
        # Over: the window frees enough when the oldest spends, `over` worth, fall out of it.
        running = (
            select(
                RateSpend.spent_at,
                func.sum(RateSpend.cost)
                .over(order_by=(RateSpend.spent_at, RateSpend.id))
                .label("running"),
            )
            .where(RateSpend.budget_key == key)
            .subquery()
        )
        freed_at = await session.scalar(
            select(running.c.spent_at)
            .where(running.c.running >= over)
            .order_by(running.c.spent_at)
            .limit(1)
        )
        if freed_at is None:
            wait = max(wait, rule.window_seconds)  # costs more than the whole budget
        else:
            wait = max(wait, (freed_at + window - now).total_seconds())
    if wait > 0:
        return wait
    if applicable:
        await session.execute(
            insert(RateSpend),
            [{"budget_key": key, "spent_at": now, "cost": rule.cost} for key, rule in applicable],
        )
    return 0.0


def rules_for(settings: PublisherSettings, network: str) -> list[BudgetRule]:
    if network in settings.rate_budgets:
        return settings.rate_budgets[network]
    return DEFAULT_BUDGETS.get(network, [])


class BudgetExhausted(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"the rate-limit budget frees in {wait:.0f} s")
        self.wait = wait


async def take(
    runtime: Runtime,
    settings: PublisherSettings,
    *,
    network: str,
    channel_id: uuid.UUID,
    action: Action,
) -> float:
    """Spends in a transaction of its own (committed before the call it pays for)."""
    rules = rules_for(settings, network)
    if not rules:
        return 0.0
    async with unit_of_work(runtime.sessions) as session:
        return await spend(
            session, network=network, channel_id=channel_id, action=action, rules=rules
        )


async def take_or_wait(
    runtime: Runtime,
    settings: PublisherSettings,
    *,
    network: str,
    channel_id: uuid.UUID,
    action: Action,
) -> None:
    """For reads answering a message: waits for the budget when it frees soon, otherwise
    raises BudgetExhausted so the message goes back to the queue."""
    while True:
        wait = await take(runtime, settings, network=network, channel_id=channel_id, action=action)
        if wait <= 0:
            return
        if wait > settings.budget_wait_max_seconds:
            raise BudgetExhausted(wait)
        await asyncio.sleep(wait)
