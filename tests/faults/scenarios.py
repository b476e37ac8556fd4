"""Running one fault scenario against a running platform, and judging it.

A scenario is a burst (of posts, or of webhooks) and a fault. The fault waits until the burst
is a third of the way through, does its damage, heals, and says when it began and healed; the
burst goes on meanwhile. Then everything is left to settle and the checker reads the end state.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import httpx
import orjson

from deploy.runner import Platform
from tests.e2e.flows import connect_x_channel, new_workspace
from tests.faults.burst import Progress, create_burst, settle
from tests.faults.checker import FaultWindow, SentWebhook, Verdict, check_posts, check_webhooks
from tests.faults.conftest import VERDICTS
from tests.support.tcp_proxy import TcpProxy

# The publisher keeps X within 100 posts per 15 minutes per account (NETWORKS.md), so a burst
# is spread over enough accounts that no post waits for the next window.
POSTS_PER_CHANNEL = 50
FAULT_AT = 0.33

Fault = Callable[[Platform], Awaitable[None]]
T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


async def inject(platform: Platform, progress: Progress, fault: Fault) -> FaultWindow:
    await progress.reached(FAULT_AT)
    began = now()
    await fault(platform)
    return FaultWindow(began=began, healed=now())


async def setup_step(make: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """A step of the set-up (not of the fault), retried: the test PostgreSQL is shared with
    every other run on the machine and may refuse a connection for a moment."""
    for attempt in range(attempts):
        try:
            return await make()
        except (AssertionError, httpx.HTTPError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1 + attempt)
    raise AssertionError("unreachable")


async def new_tenant(platform: Platform) -> str:
    async with httpx.AsyncClient(base_url=platform.config.url("gateway"), timeout=15) as gateway:
        return await setup_step(lambda: new_workspace(gateway, timezone="UTC"))


async def connect_channels(platform: Platform, key: str, count: int) -> list[dict[str, Any]]:
    config = platform.config
    sem = asyncio.Semaphore(4)
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=15) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=15) as sandbox,
    ):

        async def one() -> dict[str, Any]:
            async with sem:
                return await setup_step(lambda: connect_x_channel(gateway, sandbox, key))

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def run_posts(platform: Platform, name: str, fault: Fault, *, n: int) -> Verdict:
    """A burst of `n` posts with `fault` injected a third of the way through."""
    config = platform.config
    gateway_url = config.url("gateway")
    key = await new_tenant(platform)
    auth = {"Authorization": f"Bearer {key}"}
    channels = await connect_channels(platform, key, math.ceil(n / POSTS_PER_CHANNEL))
    progress = Progress(total=n)
    # Each post is due `lead` seconds after it is sent: long enough that a slow answer under a
    # big burst does not make it "in the past" (422), short enough that it is due mid-fault.
    lead = 3 + n / 250
    confirmed, window = await _burst_and_fault(
        platform, gateway_url, auth, channels, _split(n, len(channels)), progress, fault, lead
    )
    started = asyncio.get_running_loop().time()
    final = await settle(gateway_url, auth, confirmed, seconds=120 + 0.3 * n)
    settled = asyncio.get_running_loop().time() - started
    await asyncio.sleep(2)  # anything sent twice late would land by now
    held_items: list[dict[str, Any]] = []
    duplicates = 0
    async with httpx.AsyncClient(base_url=config.url("sandbox"), timeout=30) as sandbox:
        for channel in channels:
            held = (
                await sandbox.get(
                    "/_sandbox/x/posts", params={"account": channel["account"]["external_id"]}
                )
            ).json()
            held_items += held["items"]
            duplicates += held["duplicates"]
    verdict = check_posts(
        name, confirmed=confirmed, final_targets=final, on_network=held_items, window=window
    )
    verdict.unconfirmed = n - len(confirmed)
    verdict.duplicated = max(verdict.duplicated, duplicates)
    verdict.settled_after_seconds = settled
    VERDICTS.append(verdict.line())
    for problem in verdict.problems[:5]:
        VERDICTS.append(f"{'':<30} {problem}")
    if progress.refused:
        VERDICTS.append(f"{'':<30} not confirmed: {dict(progress.refused)}")
    return verdict


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


async def _burst_and_fault(
    platform: Platform,
    gateway_url: str,
    auth: dict[str, str],
    channels: list[dict[str, Any]],
    sizes: list[int],
    progress: Progress,
    fault: Fault,
    lead: float,
) -> tuple[list[Any], FaultWindow]:
    sub = [Progress(total=size) for size in sizes]

    async def one(channel: dict[str, Any], p: Progress) -> list[Any]:
        concurrency = max(1, 8 // len(channels))
        posts = await create_burst(
            gateway_url, auth, channel["id"], p, lead=lead, concurrency=concurrency
        )
        return posts

    async def watch() -> None:
        while progress.sent < progress.total:
            progress.sent = sum(p.sent for p in sub)
            progress.confirmed = sum(p.confirmed for p in sub)
            progress.note()
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    fault_task = asyncio.create_task(inject(platform, progress, fault))
    results = await asyncio.gather(*(one(c, p) for c, p in zip(channels, sub, strict=True)))
    window = await fault_task
    watcher.cancel()
    for p in sub:
        progress.refused.update(p.refused)
    return [post for posts in results for post in posts], window


def broker_down(proxy: TcpProxy, seconds: float) -> Fault:
    """Every broker connection cut and none allowed back for `seconds`."""

    async def fault(platform: Platform) -> None:
        proxy.accepting = False
        proxy.cut()
        await asyncio.sleep(seconds)
        proxy.accepting = True

    return fault


def killed(service: str) -> Fault:
    """SIGKILL (no shutdown at all), then started again."""

    async def fault(platform: Platform) -> None:
        platform.kill(service)
        await asyncio.sleep(1)
        await platform.restart(service)

    return fault


def database_connections_cut(times: int = 5, every: float = 0.8) -> Fault:
    """Every backend of the platform's database terminated, again and again."""

    async def fault(platform: Platform) -> None:
        conn = await asyncpg.connect(f"{platform.config.pg_url}/postgres")
        try:
            for _ in range(times):
                await asyncio.sleep(every)
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    platform.config.database,
                )
        finally:
            await conn.close()

    return fault


def network_misbehaving(seconds: float = 6) -> Fault:
    """The sandbox's X fails for a while: 5xx before and after the post took effect (the
    unknown outcome), hangs, 429s, and every access token expired."""

    async def fault(platform: Platform) -> None:
        async with httpx.AsyncClient(base_url=platform.config.url("sandbox"), timeout=15) as sb:
            r = await sb.put(
                "/_sandbox/faults",
                json={
                    "rules": [
                        {"network": "x", "expire_tokens": True, "count": 1},
                        {"network": "x", "error_rate": 0.1, "status": 503},
                        {
                            "network": "x",
                            "endpoint": "POST /x/2/tweets",
                            "error_rate": 0.05,
                            "status": 502,
                            "phase": "after",
                        },
                        {"network": "x", "timeout_rate": 0.02},
                        {"network": "x", "rate_limit": {"limit": 30, "window_seconds": 2}},
                    ]
                },
            )
            r.raise_for_status()
            await asyncio.sleep(seconds)
            with contextlib.suppress(httpx.HTTPError):
                await sb.delete("/_sandbox/faults")

    return fault


def judged(verdict: Verdict) -> None:
    assert verdict.confirmed > 0, "the burst confirmed nothing: the run proves nothing"
    assert verdict.ok, verdict.problems[:10]


def x_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def mention(account: str, event_id: str) -> bytes:
    created = now().strftime("%a %b %d %H:%M:%S +0000 %Y")
    return orjson.dumps(
        {
            "for_user_id": account,
            "tweet_create_events": [
                {
                    "id_str": event_id,
                    "text": f"@brand question {event_id}, can you help?",
                    "created_at": created,
                    "user": {"id_str": "1700000000000000001", "screen_name": "fan", "name": "Fan"},
                }
            ],
        }
    )


async def run_webhooks(
    platform: Platform, name: str, fault: Fault | None, *, n: int, database_dsn: str
) -> Verdict:
    """A flood of `n` signed X mentions to the platform's webhook endpoint, a third of them sent
    twice (some at the same moment), plus n/5 with a bad signature."""
    config = platform.config
    secret = platform.network_apps["x"]["client_secret"]
    key = await new_tenant(platform)
    (channel,) = await connect_channels(platform, key, 1)
    account = channel["account"]["external_id"]
    base = 1_900_000_000_000_000_000 + int(now().timestamp() * 1000) % 10**9 * 1000
    hooks = [SentWebhook(event_id=str(base + i), signed=True) for i in range(n)]
    hooks += [SentWebhook(event_id=str(base + n + i), signed=False) for i in range(n // 5)]
    # Deliveries in order: every event once, then a third again, interleaved so that some
    # copies race their original.
    deliveries: list[SentWebhook] = []
    for i, hook in enumerate(hooks):
        deliveries.append(hook)
        if hook.signed and i % 3 == 0:
            deliveries.append(hook)
    progress = Progress(total=len(deliveries))
    queue: asyncio.Queue[SentWebhook] = asyncio.Queue()
    for hook in deliveries:
        queue.put_nowait(hook)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            hook = queue.get_nowait()
            body = mention(account, hook.event_id)
            signature = x_signature(secret if hook.signed else "not-the-secret", body)
            hook.first_sent = hook.first_sent or now()
            try:
                r = await client.post(
                    "/hooks/x",
                    content=body,
                    headers={
                        "x-twitter-webhooks-signature": signature,
                        "content-type": "application/json",
                    },
                )
            except httpx.HTTPError as exc:
                progress.refused[type(exc).__name__] += 1
                await asyncio.sleep(0.1)
            else:
                if r.status_code == 200:
                    hook.answered_200 = True
                else:
                    progress.refused[str(r.status_code)] += 1
            progress.sent += 1
            progress.note()

    window: FaultWindow | None = None
    async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=15) as client:
        fault_task = asyncio.create_task(inject(platform, progress, fault)) if fault else None
        await asyncio.gather(*(worker(client) for _ in range(16)))
        if fault_task is not None:
            window = await fault_task

    accepted = {h.event_id for h in hooks if h.signed and h.answered_200}
    ids = [h.event_id for h in hooks]
    started = asyncio.get_running_loop().time()
    deadline = started + 60 + 0.2 * n
    conn = await asyncpg.connect(database_dsn)
    try:
        while True:
            rows = await conn.fetch(
                "SELECT external_id, created_at FROM inbox.messages "
                "WHERE external_id = ANY($1::text[]) ORDER BY created_at",
                ids,
            )
            messages: dict[str, list[datetime]] = {}
            for row in rows:
                messages.setdefault(row["external_id"], []).append(row["created_at"])
            if accepted <= set(messages) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(1)
        settled = asyncio.get_running_loop().time() - started
        await asyncio.sleep(2)  # a late second copy would land by now
        rows = await conn.fetch(
            "SELECT external_id, created_at FROM inbox.messages "
            "WHERE external_id = ANY($1::text[]) ORDER BY created_at",
            ids,
        )
        messages = {}
        for row in rows:
            messages.setdefault(row["external_id"], []).append(row["created_at"])
        # Receipts keep the raw body: an event is there when its id is in a stored body.
        receipt_rows = await conn.fetch(
            "SELECT convert_from(body, 'UTF8') AS body FROM inbox.receipts WHERE network = 'x'"
        )
    finally:
        await conn.close()
    receipts: Counter[str] = Counter()
    wanted = set(ids)
    for row in receipt_rows:
        for event in orjson.loads(row["body"]).get("tweet_create_events", []):
            if event.get("id_str") in wanted:
                receipts[event["id_str"]] += 1
    verdict = check_webhooks(name, sent=hooks, messages=messages, receipts=receipts, window=window)
    verdict.settled_after_seconds = settled
    VERDICTS.append(verdict.line())
    for problem in verdict.problems[:5]:
        VERDICTS.append(f"{'':<30} {problem}")
    if progress.refused:
        VERDICTS.append(f"{'':<30} not answered 200: {dict(progress.refused)}")
    return verdict
