"""Sending client webhooks: claim due deliveries, sign, POST, record, retry or give up.

A delivery is claimed with `FOR UPDATE SKIP LOCKED` and leased (its `next_attempt_at` moved
`lease` ahead) in a short transaction; the HTTP call runs outside any transaction; the outcome
is recorded in another. A replica that dies mid-send leaves the lease to expire, and another
replica sends again (receivers deduplicate on `webhook-id`). A live replica never outlasts its
lease: every send has a total deadline, and a pass starts no send that could end after the
lease (those deliveries are given back, due again at once).

The endpoint is the client's URL: it is reached through the outbound client (public addresses
only, no redirects followed), and of its answer only a short plain-text excerpt is kept.

Every decision takes `now` from the caller, so tests drive the schedule without sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from services.gateway.settings import GatewaySettings
from services.gateway.webhooks.subscriptions import NOTIFY_CHANNEL, SECRET_PREFIX, stored_secrets
from shared.db import unit_of_work
from shared.loops import Loop
from shared.outbound import (
    OutboundPolicy,
    OutboundRefused,
    OutboundTimeout,
    fetch,
    outbound_client,
    text_excerpt,
)
from shared.sealing import Keyring
from shared.service import Runtime

log = logging.getLogger(__name__)

USER_AGENT = "Herald-Webhooks/1"


def sign(secret: str, *, message_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256>` per the Standard Webhooks spec."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(
    subscription: WebhookSubscription, now: datetime, *, keyring: Keyring
) -> list[str]:
    """The current secret, plus the rotated-out one while its overlap window lasts."""
    current, previous = stored_secrets(subscription, keyring=keyring)
    found = [current]
    expires = subscription.previous_secret_expires_at
    if previous and expires is not None and now < expires:
        found.append(previous)
    return found


def signed_headers(
    secrets: Sequence[str], *, message_id: str, timestamp: int, body: str
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets
        ),
    }


@dataclass(frozen=True)
class Policy:
    schedule: tuple[float, ...]
    disable_after: timedelta
    lease: timedelta
    timeout: float
    batch: int
    concurrency: int
    outbound: OutboundPolicy
    keyring: Keyring
    excerpt_chars: int = 200

    @classmethod
    def of(cls, settings: GatewaySettings) -> Policy:
        return cls(
            schedule=tuple(settings.webhook_retry_schedule_seconds),
            disable_after=timedelta(hours=settings.webhook_disable_after_hours),
            lease=timedelta(seconds=settings.webhook_lease_seconds),
            timeout=settings.webhook_timeout_seconds,
            batch=settings.webhook_batch,
            concurrency=settings.webhook_concurrency,
            outbound=settings.webhook_outbound(),
            keyring=settings.keyring(),
            excerpt_chars=settings.webhook_answer_excerpt_chars,
        )

    @property
    def sending_window(self) -> float:
        """Seconds after a claim within which every send of the pass must have ended: the
        lease, less a margin for recording the outcomes."""
        lease = self.lease.total_seconds()
        return lease - min(5.0, lease / 5)

    def next_delay(self, attempts_made: int) -> timedelta | None:
        """The wait after the `attempts_made`-th failed attempt; None once retries are spent."""
        if attempts_made > len(self.schedule):
            return None
        return timedelta(seconds=self.schedule[attempts_made - 1])


@dataclass(frozen=True)
class Job:
    delivery_id: UUID
    subscription_id: UUID
    url: str
    message_id: str
    body: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    status_code: int | None
    error: str | None
    snippet: str | None
    duration_ms: int


async def claim_due(session: AsyncSession, *, now: datetime, policy: Policy) -> list[Job]:
    """Due deliveries of enabled subscriptions, leased to this caller."""
    rows = (
        await session.execute(
            select(WebhookDelivery, WebhookSubscription)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(policy.batch)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
    ).all()
    jobs = []
    for delivery, subscription in rows:
        delivery.next_attempt_at = now + policy.lease
        jobs.append(
            Job(
                delivery_id=delivery.id,
                subscription_id=subscription.id,
                url=subscription.url,
                message_id=delivery.message_id,
                body=delivery.body,
                secrets=tuple(signing_secrets(subscription, now, keyring=policy.keyring)),
            )
        )
    await session.flush()
    return jobs


async def send(
    client: httpx.AsyncClient, job: Job, *, policy: Policy, time_limit: float
) -> Outcome:
    """POSTs one delivery through the outbound client; the whole exchange ends within
    `time_limit`, and at most a short excerpt of the answer is kept."""
    # The header carries the wall clock: receivers compare it with theirs to refuse replays.
    timestamp = int(time.time())
    headers = signed_headers(
        job.secrets, message_id=job.message_id, timestamp=timestamp, body=job.body
    )
    started = time.perf_counter()

    def failed(error: str) -> Outcome:
        return Outcome(
            succeeded=False,
            status_code=None,
            error=error[:500],
            snippet=None,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )

    try:
        answer = await fetch(
            client,
            "POST",
            job.url,
            policy=policy.outbound,
            follow_redirects=False,
            truncate=True,
            deadline_seconds=time_limit,
            content=job.body.encode(),
            headers=headers,
        )
    except OutboundTimeout:
        return failed(f"No complete answer within {time_limit:g} s.")
    except OutboundRefused as exc:
        return failed(f"Refused: {exc.reason}")
    except httpx.HTTPError as exc:
        return failed(f"{type(exc).__name__}: {exc}")
    return Outcome(
        succeeded=200 <= answer.status_code < 300,
        status_code=answer.status_code,
        error=None,
        snippet=text_excerpt(answer.content, policy.excerpt_chars),
        duration_ms=int((time.perf_counter() - started) * 1000),
    )


async def give_back(session: AsyncSession, *, job: Job, now: datetime) -> None:
    """A claimed delivery this pass had no time left to send: due again, no attempt counted."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == job.delivery_id, WebhookDelivery.status == "pending")
        .values(next_attempt_at=now)
    )


async def record(
    session: AsyncSession, *, job: Job, outcome: Outcome, now: datetime, policy: Policy
) -> WebhookDelivery:
    delivery = await session.get(WebhookDelivery, job.delivery_id, with_for_update=True)
    subscription = await session.get(WebhookSubscription, job.subscription_id, with_for_update=True)
    if delivery is None or subscription is None:  # deleted while in flight
        raise LookupError(job.delivery_id)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = outcome.status_code
    session.add(
        WebhookAttempt(
            id=uuid.uuid4(),
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            attempted_at=now,
            succeeded=outcome.succeeded,
            status_code=outcome.status_code,
            error=outcome.error,
            response_snippet=outcome.snippet,
            duration_ms=outcome.duration_ms,
        )
    )
    if outcome.succeeded:
        delivery.status = "succeeded"
        delivery.next_attempt_at = None
        subscription.failing_since = None
    else:
        delay = policy.next_delay(delivery.attempts)
        if delay is None:
            delivery.status = "failed"
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + delay
        if subscription.failing_since is None:
            subscription.failing_since = now
        elif subscription.enabled and now - subscription.failing_since >= policy.disable_after:
            hours = policy.disable_after.total_seconds() / 3600
            last = (
                f"HTTP {outcome.status_code}"
                if outcome.status_code is not None
                else outcome.error or "no answer"
            )
            subscription.enabled = False
            subscription.disabled_at = now
            subscription.disabled_reason = (
                f"Every delivery attempt failed for {hours:g} hours (last: {last})."
            )[:500]
            subscription.version += 1
    await session.flush()
    return delivery


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    *,
    now: datetime,
    policy: Policy,
) -> int:
    """One pass: claims what is due at `now`, sends it, records it. Returns how many were
    claimed. `client` is an `outbound_client(policy.outbound)`."""
    async with unit_of_work(sessions) as session:
        jobs = await claim_due(session, now=now, policy=policy)
    if not jobs:
        return 0
    loop = asyncio.get_running_loop()
    window_ends = loop.time() + policy.sending_window
    gate = asyncio.Semaphore(policy.concurrency)

    async def one(job: Job) -> None:
        async with gate:
            left = window_ends - loop.time()
            outcome = None
            if left >= min(1.0, policy.timeout):
                outcome = await send(
                    client, job, policy=policy, time_limit=min(policy.timeout, left)
                )
        try:
            async with unit_of_work(sessions) as session:
                if outcome is None:
                    await give_back(session, job=job, now=now)
                else:
                    await record(session, job=job, outcome=outcome, now=now, policy=policy)
        except LookupError:
            log.info("delivery %s vanished while in flight", job.delivery_id)

    await asyncio.gather(*(one(job) for job in jobs))
    return len(jobs)


class WebhookDeliveries(Loop):
    """Sends what is due, woken by a NOTIFY when a delivery is queued."""

    name = "webhook-delivery"
    wake_on = NOTIFY_CHANNEL

    def __init__(self, runtime: Runtime, settings: GatewaySettings) -> None:
        self.policy = Policy.of(settings)
        super().__init__(runtime, batch=self.policy.batch, every=settings.webhook_poll_seconds)
        self.client: httpx.AsyncClient | None = None

    async def run(self) -> None:
        # One client (its connection pool) for as long as the loop runs.
        async with outbound_client(
            self.policy.outbound,
            headers={"user-agent": USER_AGENT},
            max_connections=max(self.policy.concurrency, 1),
        ) as self.client:
            await super().run()

    async def step(self) -> int:
        assert self.client is not None, "step runs inside run"
        return await deliver_due(
            self.runtime.sessions, self.client, now=self.clock(), policy=self.policy
        )
