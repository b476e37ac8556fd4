import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from services.scheduler.app import create_app
from services.scheduler.models import Post, Target
from services.scheduler.settings import SchedulerSettings
from tests.scheduler.support import listening
from tests.support.servers import lifespan

POSTS, TARGETS_PER_POST = 500, 10


async def test_two_dispatchers_share_5000_due_targets_without_double_work(make_settings):
    # Small batches, so the two replicas interleave many claims over the same rows.
    settings = make_settings(SchedulerSettings, dispatch_batch=100)
    replicas = [create_app(settings), create_app(settings)]
    workspace = uuid.uuid4()
    # Due shortly after both replicas are up, so they wake together on the whole pile.
    due_at = datetime.now(UTC) + timedelta(seconds=3)
    posts = [
        {
            "id": uuid.uuid4(),
            "workspace_id": workspace,
            "status": "scheduled",
            "version": 1,
            "text": f"post {i}",
            "media": [],
            "tags": [],
            "created_by": "bench",
        }
        for i in range(POSTS)
    ]
    targets = [
        {
            "id": uuid.uuid4(),
            "post_id": post["id"],
            "workspace_id": workspace,
            "channel_id": uuid.uuid4(),
            "network": "x",
            "position": n,
            "options": {},
            "status": "scheduled",
            "due_at": due_at + timedelta(microseconds=i),
            "timezone": "UTC",
        }
        for i, (post, n) in enumerate((post, n) for post in posts for n in range(TARGETS_PER_POST))
    ]
    sessions = replicas[0].state.runtime.sessions
    async with sessions() as session, session.begin():
        await session.execute(insert(Post), posts)
        await session.execute(insert(Target), targets)

    expected = POSTS * TARGETS_PER_POST
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        contextlib.AsyncExitStack() as stack,
    ):
        for app in replicas:
            await stack.enter_async_context(lifespan(app))
        await heard.wait_for(lambda h: len(h.of("post.due")) >= expected, within=120)
        # Anything dispatched twice would arrive right behind.
        await asyncio.sleep(1.5)

        seen = Counter(e.data["target_id"] for e in heard.of("post.due"))
        assert len(seen) == expected, "a target was left behind"
        assert max(seen.values()) == 1, "a target was dispatched twice"
        assert set(seen) == {str(t["id"]) for t in targets}
        async with sessions() as session:
            left = await session.scalar(
                select(func.count()).select_from(Target).where(Target.status != "publishing")
            )
        assert left == 0
        shares = [app.state.dispatcher.metrics.dispatched._value.get() for app in replicas]
        assert sum(shares) == expected
        assert all(share > 0 for share in shares), f"one replica did all the work: {shares}"
