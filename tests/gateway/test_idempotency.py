import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from services.gateway.models import IdempotencyRecord
from tests.gateway.support import ADMIN_TOKEN, bearer, echo_upstreams, running_gateway


def post_count(echo, path: str) -> int:
    return sum(1 for s in echo.seen if s["path"] == path)


async def test_same_key_and_body_replays_the_first_response(make_settings):
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(make_settings, run_workers=False, scheduler_url=ups["scheduler"][1]) as gw,
    ):
        echo, _ = ups["scheduler"]
        ws = await gw.workspace()
        headers = {**bearer(ws["api_key"]), "Idempotency-Key": "post-1"}
        first = await gw.client.post("/v1/posts", json={"text": "hi"}, headers=headers)
        again = await gw.client.post("/v1/posts", json={"text": "hi"}, headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert again.headers["x-request-id"]  # still its own request id
        assert post_count(echo, "/v1/posts") == 1

        different = await gw.client.post("/v1/posts", json={"text": "other"}, headers=headers)
        assert different.status_code == 422
        assert different.headers["content-type"] == "application/problem+json"
        assert different.json()["field"] == "Idempotency-Key"
        assert post_count(echo, "/v1/posts") == 1

        # Keys belong to an API key: another one may use the same key for its own request.
        other = await gw.workspace(name="Other")
        theirs = await gw.client.post(
            "/v1/posts",
            json={"text": "hi"},
            headers={**bearer(other["api_key"]), "Idempotency-Key": "post-1"},
        )
        assert "idempotent-replayed" not in theirs.headers
        assert post_count(echo, "/v1/posts") == 2


async def test_concurrent_requests_with_one_key_run_once(make_settings):
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(make_settings, served=True, scheduler_url=ups["scheduler"][1]) as gw,
    ):
        echo, _ = ups["scheduler"]
        ws = await gw.workspace()
        headers = {**bearer(ws["api_key"]), "Idempotency-Key": "slow-1"}

        async def post():
            return await gw.client.post("/v1/posts/slow", json={"n": 1}, headers=headers)

        first = asyncio.create_task(post())
        await asyncio.wait_for(echo.entered.wait(), 30)
        racing = await asyncio.gather(*(post() for _ in range(5)))
        assert [r.status_code for r in racing] == [409] * 5
        assert all(r.headers["retry-after"] for r in racing)
        echo.release.set()
        done = await first
        assert done.status_code == 200
        replay = await post()
        assert replay.status_code == 200 and replay.content == done.content
        assert post_count(echo, "/v1/posts/slow") == 1


async def test_retryable_failures_are_not_remembered_and_keys_expire(make_settings):
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(make_settings, run_workers=False, scheduler_url=ups["scheduler"][1]) as gw,
    ):
        echo, _ = ups["scheduler"]
        ws = await gw.workspace()
        headers = {**bearer(ws["api_key"]), "Idempotency-Key": "k"}
        for _ in range(2):
            r = await gw.client.post("/v1/posts/fail", json={}, headers=headers)
            assert r.status_code == 503
        assert post_count(echo, "/v1/posts/fail") == 2

        headers = {**bearer(ws["api_key"]), "Idempotency-Key": "k2"}
        await gw.client.post("/v1/posts", json={"a": 1}, headers=headers)
        async with gw.runtime.sessions() as session, session.begin():
            await session.execute(
                update(IdempotencyRecord).values(
                    expires_at=datetime.now(UTC) - timedelta(seconds=1)
                )
            )
        # Expired: the same key may now carry a different request, which runs.
        r = await gw.client.post("/v1/posts", json={"a": 2}, headers=headers)
        assert r.status_code == 200 and "idempotent-replayed" not in r.headers
        assert post_count(echo, "/v1/posts") == 2


async def test_gateway_own_posts_are_idempotent_too(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Idempotency-Key": "ws-1"}
        body = {"name": "Once", "timezone": "UTC"}
        first = await gw.client.post("/v1/workspaces", json=body, headers=headers)
        second = await gw.client.post("/v1/workspaces", json=body, headers=headers)
        # The answer carried the workspace's first owner key, which is never stored: the
        # retry learns that it ran and what it created, not the key.
        assert first.status_code == 201 and second.status_code == 409
        assert second.json()["resource_id"] == first.json()["id"]
        assert first.json()["api_key"] not in second.text
        bad = await gw.client.post(
            "/v1/workspaces",
            json=body,
            headers={**bearer(first.json()["api_key"]), "Idempotency-Key": "x" * 300},
        )
        assert bad.status_code == 422
