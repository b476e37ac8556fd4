"""A target the publisher keeps retrying shows `retrying`, its attempts, last error and next
attempt; the post.due it was sent with carries the missed-post deadline to retry until."""

import uuid
from datetime import UTC, datetime, timedelta

from services.scheduler.settings import SchedulerSettings
from shared.events import PostPublished, PostRetrying
from tests.conftest import identity
from tests.scheduler.support import (
    eventually,
    listening,
    publish,
    running_scheduler,
    wait_consuming,
)


async def test_retrying_shows_on_the_target_until_the_outcome(make_settings):
    settings = make_settings(SchedulerSettings, default_missed_after_seconds=900)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        await wait_consuming(s, "outcomes")
        channel = await s.add_channel(workspace_id=workspace, network="x")
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "go",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"now": True},
            },
            headers=identity(workspace),
        )
        post = r.json()
        target = post["targets"][0]["id"]
        await heard.wait_for(lambda h: len(h.of("post.due")) == 1)
        due = heard.of("post.due")[0].data
        due_at = datetime.fromisoformat(due["due_at"])
        assert datetime.fromisoformat(due["retry_until"]) == due_at + timedelta(seconds=900)

        def retrying(attempts: int, at: datetime) -> PostRetrying:
            return PostRetrying(
                post_id=post["id"],
                target_id=target,
                channel_id=channel,
                network="x",
                attempts=attempts,
                error_class="transient",
                error=f"503 on attempt {attempts}",
                next_attempt_at=at,
            )

        second = datetime.now(UTC) + timedelta(seconds=40)
        # The third report arrives before the second (another replica): the newest stays.
        await publish(
            settings.exchange_name,
            (retrying(1, datetime.now(UTC) + timedelta(seconds=10)), workspace),
            (retrying(3, second), workspace),
            (retrying(2, datetime.now(UTC) + timedelta(seconds=20)), workspace),
        )

        async def shows_retrying() -> None:
            got = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
            body = got.json()
            [t] = body["targets"]
            assert body["status"] == "retrying"
            assert t["status"] == "retrying"
            assert t["attempts"] == 3
            assert t["error"] == "transient: 503 on attempt 3"
            assert datetime.fromisoformat(t["next_attempt_at"]) == second

        await eventually(shows_retrying)
        # A retrying target is in the publisher's hands: it cannot be edited or canceled.
        cancel = await s.client.delete(f"/v1/posts/{post['id']}", headers=identity(workspace))
        assert cancel.status_code == 409, cancel.text

        await publish(
            settings.exchange_name,
            (
                PostPublished(
                    post_id=post["id"],
                    target_id=target,
                    channel_id=channel,
                    network="x",
                    external_id="1900",
                    published_at=datetime.now(UTC),
                ),
                workspace,
            ),
        )

        async def published() -> None:
            got = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
            [t] = got.json()["targets"]
            assert (t["status"], t["next_attempt_at"], t["error"]) == ("published", None, None)

        await eventually(published)
        # A retry report that arrives after the outcome changes nothing.
        await publish(
            settings.exchange_name,
            (retrying(4, datetime.now(UTC) + timedelta(seconds=60)), workspace),
        )
        await eventually(published)
