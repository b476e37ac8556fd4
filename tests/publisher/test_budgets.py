"""Rate-limit budgets in PostgreSQL, shared by replicas: a post that would overspend waits for
the window instead of failing."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.publisher.app import create_app
from services.publisher.budgets import DEFAULT_BUDGETS, spend
from services.publisher.models import RateSpend
from services.publisher.settings import BudgetRule
from shared.events import Envelope
from tests.publisher.support import Tap, post_due, sandbox_posts, send, wait_consuming
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


async def test_two_replicas_share_one_budget_and_the_overflow_waits(
    publisher_settings, sandbox_url
):
    rules = [{"name": "tweets", "limit": 2, "window_seconds": 4, "actions": ["post", "reply"]}]
    settings = publisher_settings(rate_budgets={"x": rules})
    first, second = create_app(settings), create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(first), lifespan(second):
        await wait_consuming(first, settings.queue_name("posts"))
        channel = await connect(first, sandbox_url, workspace, network="x")
        dues = [post_due(channel=channel, text=f"Budgeted {i}") for i in range(5)]
        await send(settings.exchange_name, *(Envelope.of(d, workspace_id=workspace) for d in dues))
        published = await tap.wait("post.published", count=5, seconds=40)
        assert tap.of("post.publish_failed") == []
        listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
        times = sorted(
            datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")) for p in listing["items"]
        )
        assert len(times) == 5 and listing["duplicates"] == 0
        # Never more than 2 in any 4-second window, whichever replica sent them.
        for i in range(2, 5):
            assert times[i] - times[i - 2] >= timedelta(seconds=3.9)
        assert {e.data["target_id"] for e in published} == {str(d.target_id) for d in dues}


async def test_a_rolling_daily_cap_frees_as_the_oldest_spend_ages_out(publisher_settings):
    settings = publisher_settings()
    app = create_app(settings)
    [posts] = DEFAULT_BUDGETS["instagram"]
    assert (posts.limit, posts.window_seconds) == (50, 86400)
    channel = uuid.uuid4()
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    async with app.state.runtime.sessions() as session, session.begin():
        for i in range(50):
            wait = await spend(
                session,
                network="instagram",
                channel_id=channel,
                action="post",
                rules=[posts],
                now=start + timedelta(minutes=i),
            )
            assert wait == 0
        wait = await spend(
            session,
            network="instagram",
            channel_id=channel,
            action="post",
            rules=[posts],
            now=start + timedelta(hours=2),
        )
        assert wait == timedelta(hours=22).total_seconds()
        # Replies do not spend the post cap; another account has its own purse.
        assert (
            await spend(
                session,
                network="instagram",
                channel_id=channel,
                action="reply",
                rules=[posts],
                now=start + timedelta(hours=2),
            )
            == 0
        )
        assert (
            await spend(
                session,
                network="instagram",
                channel_id=uuid.uuid4(),
                action="post",
                rules=[posts],
                now=start + timedelta(hours=2),
            )
            == 0
        )
        assert (
            await spend(
                session,
                network="instagram",
                channel_id=channel,
                action="post",
                rules=[posts],
                now=start + timedelta(hours=24, seconds=1),
            )
            == 0
        )
    assert BudgetRule(name="x", limit=1, window_seconds=1, actions=["read"]).cost == 1


async def test_a_large_budget_is_kept_in_buckets_and_never_frees_early(publisher_settings):
    """A budget of thousands of spends (X's app-wide daily cap) must not sum one row per spend
    under its lock; it is kept in buckets that free no earlier than the spends in them."""
    settings = publisher_settings()
    app = create_app(settings)
    rule = BudgetRule(name="big", limit=600, window_seconds=100, actions=["post"], scope="app")
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    async with app.state.runtime.sessions() as session, session.begin():
        for i in range(600):
            wait = await spend(
                session,
                network="x",
                channel_id=uuid.uuid4(),
                action="post",
                rules=[rule],
                now=start + timedelta(milliseconds=50 * i),
            )
            assert wait == 0
        rows = await session.scalar(select(func.count()).select_from(RateSpend))
        spent = await session.scalar(select(func.sum(RateSpend.cost)))
        assert spent == 600
        assert rows <= 31  # 30 s of spends in 1-second buckets
        wait = await spend(
            session,
            network="x",
            channel_id=uuid.uuid4(),
            action="post",
            rules=[rule],
            now=start + timedelta(seconds=40),
        )
        # The first spend (at 0 s) leaves the window at 100 s: not before, at most a bucket later.
        assert 60 <= wait <= 61
