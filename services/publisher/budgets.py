"""Rate-limit budgets per token (and per app), kept in PostgreSQL so every replica spends from
the same purse. Publishing, replying, polling and insight fetches all spend; a call that would
overspend is not made: the caller learns how long until the window frees and waits."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select, text
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


SPENDS = RateSpend.__table__.fullname

# One statement: what each budget has spent inside its window and, when every one of them can
# pay, the new spends. It runs after the locks are held, so its snapshot sees every spend
# committed before ours.
SPEND_IF_FITS = text(
    f"""
    WITH wanted AS (
        SELECT key, lim, cost, since, stamp
        FROM unnest(CAST(:keys AS text[]), CAST(:limits AS int[]), CAST(:costs AS int[]),
                    CAST(:sinces AS timestamptz[]), CAST(:stamps AS timestamptz[]))
             AS w(key, lim, cost, since, stamp)
    ), used AS (
        SELECT w.key, w.lim, w.cost, w.stamp,
               COALESCE((SELECT sum(s.cost) FROM {SPENDS} s
                         WHERE s.budget_key = w.key AND s.spent_at > w.since), 0) AS used
        FROM wanted w
    ), fits AS (
        SELECT bool_and(used + cost <= lim) AS ok FROM used
    ), added AS (
        UPDATE {SPENDS} s SET cost = s.cost + u.cost
        FROM used u, fits
        WHERE fits.ok AND s.budget_key = u.key AND s.spent_at = u.stamp
        RETURNING s.budget_key
    ), spent AS (
        INSERT INTO {SPENDS} (budget_key, spent_at, cost)
        SELECT u.key, u.stamp, u.cost FROM used u, fits
        WHERE fits.ok AND u.key NOT IN (SELECT budget_key FROM added)
        RETURNING 1
    )
    SELECT fits.ok FROM fits
    """
)
# A budget that can hold more spends than this is kept in buckets of 1/BUCKETS of its window
# instead of one row per spend: summing X's 10,000-a-day app budget row by row under its lock
# made every post to X slower than the one before. Each bucket is stamped with its end, so a
# spend counts until the whole bucket has left the window: never early, at most one bucket
# late. Smaller budgets (Instagram's 50 a day) stay exact.
EXACT_UP_TO = 500
BUCKETS = 100


def spend_stamp(rule: BudgetRule, now: datetime) -> datetime:
    if rule.limit // max(rule.cost, 1) <= EXACT_UP_TO:
        return now
    width = rule.window_seconds / BUCKETS
    epoch = now.timestamp()
    return datetime.fromtimestamp((epoch // width + 1) * width, UTC)


# Every this many spends a process clears the spends that left their window (outside the
# lock; the sums above ignore them anyway).
CLEANUP_EVERY = 200
_spends = 0


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
    or the seconds until all of them could pay (nothing is spent then).

    Every replica's every call passes through the budgets' locks (an app-wide budget such as
    X's is one lock for all posts to X), so the hot path holds them for one statement and the
    commit: lock, then check-and-spend in a single round trip."""
    global _spends
    now = now or datetime.now(UTC)
    applicable = sorted(
        ((budget_key(network, r, channel_id), r) for r in rules if action in r.actions),
        key=lambda pair: pair[0],
    )
    if not applicable:
        return 0.0
    keys = [key for key, _ in applicable]
    # Sorted keys, locked in that order: replicas never wait on each other in a cycle.
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtext(k)) "
            "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, i) ORDER BY i"
        ),
        {"keys": keys},
    )
    fits = (
        await session.execute(
            SPEND_IF_FITS,
            {
                "keys": keys,
                "limits": [rule.limit for _, rule in applicable],
                "costs": [rule.cost for _, rule in applicable],
                "sinces": [now - timedelta(seconds=rule.window_seconds) for _, rule in applicable],
                "stamps": [spend_stamp(rule, now) for _, rule in applicable],
            },
        )
    ).one()
    _spends += 1
    if _spends % CLEANUP_EVERY == 0:
        await session.execute(
            delete(RateSpend).where(
                RateSpend.budget_key.in_(keys),
                RateSpend.spent_at
                <= now - timedelta(seconds=max(rule.window_seconds for _, rule in applicable)),
            )
        )
    if fits.ok:
        return 0.0
    return await wait_until_fits(session, applicable, now=now)


async def wait_until_fits(
    session: AsyncSession, applicable: list[tuple[str, BudgetRule]], *, now: datetime
) -> float:
    """Seconds until every budget of `applicable` can pay for one more call."""
    wait = 0.0
    for key, rule in applicable:
        window = timedelta(seconds=rule.window_seconds)
        since = now - window
        used = await session.scalar(
            select(func.coalesce(func.sum(RateSpend.cost), 0)).where(
                RateSpend.budget_key == key, RateSpend.spent_at > since
            )
        )
        over = int(used or 0) + rule.cost - rule.limit
        if over <= 0:
            continue
        # The window frees enough when the oldest spends, `over` worth, fall out of it.
        running = (
            select(
                RateSpend.spent_at,
                func.sum(RateSpend.cost)
                .over(order_by=(RateSpend.spent_at, RateSpend.id))
                .label("running"),
            )
            .where(RateSpend.budget_key == key, RateSpend.spent_at > since)
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
    return max(wait, 0.001)


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
