"""No request-size limits: any client could make a service buffer (and parse) any body.

Bodies are refused (413 problem+json) above each process's limit, at the gateway and at every
service behind it, whether the size is declared or the body comes chunked; a CSV import is
refused above its own cap before it is parsed; the inbox's intake keeps a bounded backlog;
every database engine has a statement timeout.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from services.gateway.app import create_app as create_gateway
from services.gateway.settings import GatewaySettings
from services.inbox.app import create_app as create_inbox
from services.inbox.intake import IntakeFull, ReceiptWriter
from services.inbox.normalise import Identity
from services.inbox.settings import InboxSettings
from services.metrics.app import create_app as create_metrics
from services.metrics.settings import MetricsSettings
from services.publisher.app import create_app as create_publisher
from services.publisher.settings import PublisherSettings
from services.scheduler.app import create_app as create_scheduler
from services.scheduler.settings import SchedulerSettings
from shared.db import asyncpg_dsn
from tests.conftest import INTERNAL_TOKEN
from tests.security.edge import bearer, gateway_url, new_workspace, raw_request
from tests.support.waits import until

MIB = 1024 * 1024
SERVICES = ("scheduler", "publisher", "inbox", "metrics")
# A path of each service that takes a JSON body.
BODY_PATHS = {
    "scheduler": "/v1/posts",
    "publisher": "/v1/channels",
    "inbox": "/v1/saved-replies",
    "metrics": "/v1/links",
}


def json_of(size: int) -> bytes:
    return b'{"text": "' + b"a" * size + b'"}'


def assert_too_large(r) -> None:  # noqa: ANN001
    assert r.status == 413, (r.status, r.body[:300])
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.timeout(300)
async def test_bodies_above_the_limits_are_refused(platform) -> None:  # noqa: ANN001
    base = gateway_url(platform)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        key = (await new_workspace(client))["api_key"]
    auth = {**bearer(key), "Content-Type": "application/json"}

    # At the gateway (10 MiB): declared, and chunked without any Content-Length.
    big = json_of(11 * MIB)
    for chunked in (False, True):
        r = await raw_request(
            base,
            "/v1/posts",
            method="POST",
            headers=auth,
            body=big,
            chunked=chunked,
        )
        assert_too_large(r)
    # Below the gateway's limit, above the service's (1 MiB): the service refuses it.
    middle = json_of(2 * MIB)
    for chunked in (False, True):
        r = await raw_request(
            base, "/v1/posts", method="POST", headers=auth, body=middle, chunked=chunked
        )
        assert_too_large(r)

    # Each service on its own port, as anything inside the network could reach it.
    for name in SERVICES:
        url = platform.config.url(name)
        headers = {"Content-Type": "application/json", "x-herald-internal-token": INTERNAL_TOKEN}
        for chunked in (False, True):
            r = await raw_request(
                url,
                BODY_PATHS[name],
                method="POST",
                headers=headers,
                body=middle,
                chunked=chunked,
            )
            assert_too_large(r)

    # A CSV import above its cap (100 kB here) is refused before it is parsed.
    rows = "".join(f"hello {n},{uuid.uuid4()}\n" for n in range(4000))
    csv = ("text,channel_id\n" + rows).encode()
    assert 100_000 < len(csv) < MIB
    for chunked in (False, True):
        r = await raw_request(
            base,
            "/v1/posts/import",
            method="POST",
            headers={**bearer(key), "Content-Type": "text/csv"},
            body=csv,
            chunked=chunked,
        )
        assert_too_large(r)
        assert "CSV" in r.json()["detail"]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.post(
            "/v1/posts/import", headers=bearer(key), files={"file": ("posts.csv", csv, "text/csv")}
        )
        assert r.status_code == 413, r.text

        # Below every limit, a body is read and judged on what it says.
        r = await client.post("/v1/posts", json={"text": "a" * 1000}, headers=bearer(key))
        assert r.status_code == 422 and r.json()["field"] == "targets", r.text


@pytest.fixture(autouse=True)
def _lower_csv_cap(request, monkeypatch) -> None:  # noqa: ANN001
    """The platform's CSV cap, lowered so that a small file shows it."""
    if "platform" in request.fixturenames:
        monkeypatch.setenv("SCHEDULER_IMPORT_MAX_BYTES", "100000")


async def test_every_engine_has_a_statement_timeout(make_settings) -> None:  # noqa: ANN001
    apps = [
        create_gateway(make_settings(GatewaySettings)),
        create_scheduler(make_settings(SchedulerSettings)),
        create_publisher(make_settings(PublisherSettings)),
        create_inbox(make_settings(InboxSettings)),
        create_metrics(make_settings(MetricsSettings)),
    ]
    for app in apps:
        engine = app.state.runtime.engine
        try:
            async with engine.connect() as conn:
                shown = (await conn.execute(text("SHOW statement_timeout"))).scalar()
                assert shown == "1min", (app.title, shown)
        finally:
            await engine.dispose()


async def test_the_intake_backlog_is_bounded(database_url: str) -> None:
    writer = ReceiptWriter(database_url, connections=1, max_batch=2, max_pending=3)
    await writer.start()
    # The receipts table is locked: the first batch waits in its INSERT, the rest queue up.
    blocker = await asyncpg.connect(asyncpg_dsn(database_url))
    watcher = await asyncpg.connect(asyncpg_dsn(database_url))
    tx = blocker.transaction()
    await tx.start()
    await blocker.execute("LOCK TABLE inbox.receipts IN ACCESS EXCLUSIVE MODE")
    try:

        def store(n: int) -> asyncio.Task[bool]:
            identity = Identity(event_key=f"e{n}", account_id="a", understood=True)
            return asyncio.create_task(writer.store(network="x", identity=identity, body=b"{}"))

        first = [store(n) for n in range(2)]
        # Wait until the writer's INSERT of the first batch waits for the lock.
        # (Asked on a connection of its own: a transaction sees one snapshot of the activity.)
        await until(
            lambda: watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND application_name = 'herald-inbox-intake' AND datname = current_database()"
            ),
            timeout=10,
            every=0.01,
            what="the first store waiting on the lock",
        )
        queued = [store(n) for n in range(2, 5)]
        # A quiet moment is the check: the queued stores must still be waiting after it.
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in queued)
        with pytest.raises(IntakeFull):
            identity = Identity(event_key="e9", account_id="a", understood=True)
            await writer.store(network="x", identity=identity, body=b"{}")
    finally:
        await tx.rollback()
        await blocker.close()
        await watcher.close()
    assert all(await asyncio.gather(*first, *queued))
    await writer.stop()
