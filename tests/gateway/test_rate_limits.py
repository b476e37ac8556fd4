from sqlalchemy import text

from services.gateway.edge.ratelimit import chunk_for
from tests.gateway.support import ADMIN_TOKEN, bearer, echo_upstreams, running_gateway


async def test_limits_per_key_and_per_workspace_with_headers_and_429(make_settings):
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(
            make_settings,
            run_workers=False,
            scheduler_url=ups["scheduler"][1],
            rate_limit_per_key=3,
            rate_limit_per_workspace=5,
            rate_limit_window_seconds=3600,
        ) as gw,
    ):
        ws = await gw.workspace()
        # Creating keys counts too: 2 of the owner key's 3 and of the workspace's 5.
        k1 = await gw.key(ws["api_key"], "editor")
        k2 = await gw.key(ws["api_key"], "editor")
        r = await gw.client.get("/v1/posts", headers=bearer(k1["api_key"]))
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "3"  # the key's budget is the tighter one
        assert r.headers["ratelimit-remaining"] == "2"
        assert 0 < int(r.headers["ratelimit-reset"]) <= 3600
        await gw.client.get("/v1/posts", headers=bearer(k1["api_key"]))
        # Workspace: 2 + 2 = 4 of 5. k2's first call uses the last one.
        r = await gw.client.get("/v1/posts", headers=bearer(k2["api_key"]))
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "5" and r.headers["ratelimit-remaining"] == "0"
        r = await gw.client.get("/v1/posts", headers=bearer(k2["api_key"]))
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert 0 < int(r.headers["retry-after"]) <= 3600
        assert r.headers["ratelimit-remaining"] == "0"
        # The refused call never reached the service.
        echo, _ = ups["scheduler"]
        assert len(echo.seen) == 3

        # The operator raises this workspace's limit; another workspace is unaffected anyway.
        raised = await gw.client.patch(
            f"/v1/workspaces/{ws['id']}",
            json={"rate_limit": 100},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert raised.status_code == 200 and raised.json()["rate_limit"] == 100
        r = await gw.client.get("/v1/posts", headers=bearer(k2["api_key"]))
        assert r.status_code == 200 and r.headers["ratelimit-limit"] == "3"


async def test_replicas_share_the_counters(make_settings):
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(
            make_settings,
            run_workers=False,
            scheduler_url=ups["scheduler"][1],
            rate_limit_per_key=4,
            rate_limit_window_seconds=3600,
        ) as a,
        running_gateway(
            make_settings,
            run_workers=False,
            scheduler_url=ups["scheduler"][1],
            rate_limit_per_key=4,
            rate_limit_window_seconds=3600,
        ) as b,
    ):
        ws = await a.workspace()
        key = await a.key(ws["api_key"], "analyst")
        statuses = []
        for gw in (a, b, a, b, a):
            statuses.append(
                (await gw.client.get("/v1/posts", headers=bearer(key["api_key"]))).status_code
            )
        assert statuses == [200, 200, 200, 200, 429]


async def test_public_paths_are_not_limited(make_settings):
    async with (
        echo_upstreams("inbox") as ups,
        running_gateway(
            make_settings,
            run_workers=False,
            inbox_url=ups["inbox"][1],
            rate_limit_per_key=1,
        ) as gw,
    ):
        for _ in range(3):
            r = await gw.client.post("/hooks/x", content=b"{}")
            assert r.status_code == 200 and "ratelimit-limit" not in r.headers


async def test_replicas_reserve_chunks_and_never_exceed_the_limit_together(make_settings):
    # A limit of 60 is reserved 3 at a time: most requests never touch PostgreSQL, yet the
    # two replicas together let through no more than 60, and refuse at most a chunk early
    # (what the other replica still holds).
    limit = 60
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(
            make_settings,
            run_workers=False,
            scheduler_url=ups["scheduler"][1],
            rate_limit_per_key=limit,
            rate_limit_window_seconds=3600,
        ) as a,
        running_gateway(
            make_settings,
            run_workers=False,
            scheduler_url=ups["scheduler"][1],
            rate_limit_per_key=limit,
            rate_limit_window_seconds=3600,
        ) as b,
    ):
        ws = await a.workspace()
        key = await a.key(ws["api_key"], "analyst")
        statuses, remaining = [], []
        for i in range(limit + 10):
            gw = a if i % 3 else b
            r = await gw.client.get("/v1/posts", headers=bearer(key["api_key"]))
            statuses.append(r.status_code)
            assert r.headers["ratelimit-limit"] == str(limit)
            remaining.append(int(r.headers["ratelimit-remaining"]))
        allowed = statuses.count(200)
        assert limit - chunk_for(limit) <= allowed <= limit
        assert set(statuses) == {200, 429}
        assert remaining[-1] == 0 and remaining[0] < limit
        # The shared counter moved a chunk at a time, not once per request.
        async with a.runtime.sessions() as session:
            counted = await session.scalar(
                text("SELECT count FROM gateway.rate_limit_counters WHERE bucket = :b"),
                {"b": f"key:{key['id']}"},
            )
        assert counted is not None and counted <= limit + 2 * chunk_for(limit) < len(statuses)
        echo, _ = ups["scheduler"]
        assert len(echo.seen) == allowed
