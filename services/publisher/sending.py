"""The publishing loop: claim due jobs, talk to the network outside any transaction, settle.

Each attempt is three steps. (1) Claim: the job becomes `sending` under a lease, and that is
committed before the network is called, so a process that dies mid-call leaves a trace.
(2) Talk to the network, holding no database transaction. (3) Settle the outcome in a new
transaction, only if the lease is still ours. A job found `sending` with an expired lease had
an unknown outcome; it is reconciled (looked up, or resent under the network's own
idempotency) before anything is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.publisher import budgets, chains, jobs
from services.publisher.adapters import Adapters
from services.publisher.adapters.base import (
    PERMANENT,
    Adapter,
    ChannelRef,
    Lookup,
    NetworkError,
    Outgoing,
    Published,
)
from services.publisher.channels import mark_needs_reauth, seal, unseal
from services.publisher.crypto import Keyring
from services.publisher.models import Channel, PublishJob
from services.publisher.settings import PublisherSettings
from shared.db import unit_of_work
from shared.loops import Loop
from shared.service import Runtime

log = logging.getLogger(__name__)


class NeedsReauth(Exception):
    """The channel's token is dead and cannot be refreshed: a person must reconnect it."""


class ChannelGone(Exception):
    pass


@dataclass(frozen=True)
class Attempt:
    job_id: uuid.UUID
    lease_token: uuid.UUID
    channel_id: uuid.UUID
    network: str
    post: Outgoing
    reconcile: bool
    sent_at: datetime
    attempts: int
    kind: str = "post"
    # A thread's parts already on the network (see services.publisher.chains).
    parts: tuple[Published, ...] = ()
    retry_until: datetime | None = None

    @property
    def action(self) -> budgets.Action:
        return "reply" if self.kind == "reply" else "post"


class Credentials:
    """Opens a channel's credentials and refreshes them, one replica at a time."""

    def __init__(self, *, runtime: Runtime, keyring: Keyring, settings: PublisherSettings):
        self.runtime = runtime
        self.keyring = keyring
        self.settings = settings
        self.refresh_failures = runtime.metrics.counter(
            "herald_publisher_token_refresh_failures_total",
            "Token refreshes that failed, by network and error class (auth_expired: the "
            "network refused or the token cannot be refreshed; the channel needs reauth)",
            ["network", "error_class"],
        )

    async def current(
        self, *, channel_id: uuid.UUID, adapter: Adapter
    ) -> tuple[Channel, dict[str, Any]]:
        async with unit_of_work(self.runtime.sessions) as session:
            channel = await session.get(Channel, channel_id)
            if channel is None:
                raise ChannelGone(str(channel_id))
            if channel.status == "needs_reauth":
                raise NeedsReauth(channel.status_reason or "the channel needs reconnecting")
            creds = unseal(channel, keyring=self.keyring)
        margin = timedelta(seconds=self.settings.refresh_margin_seconds)
        expires = channel.token_expires_at
        if expires is not None and expires - margin <= self.runtime.clock():
            creds = await self.refresh(channel_id=channel_id, adapter=adapter, stale=creds)
        return channel, creds

    async def refresh(
        self,
        *,
        channel_id: uuid.UUID,
        adapter: Adapter,
        stale: dict[str, Any],
        ahead: bool = False,
    ) -> dict[str, Any]:
        """New credentials, stored. `ahead`: renewing a token that still works, so a network
        that cannot refresh leaves it as it is (it is warned about, not given up on)."""
        # The row lock serialises replicas: refresh tokens rotate, and two replicas redeeming
        # the same one would leave one of them (and then the channel) locked out.
        async with unit_of_work(self.runtime.sessions) as session:
            channel = await session.scalar(
                select(Channel).where(Channel.id == channel_id).with_for_update()
            )
            if channel is None:
                raise ChannelGone(str(channel_id))
            creds = unseal(channel, keyring=self.keyring)
            if creds.get("access_token") != stale.get("access_token"):
                return creds  # another replica refreshed it while we waited for the lock
            try:
                fresh = await adapter.refresh(creds)
            except NetworkError as exc:
                self.refresh_failures.labels(adapter.network, exc.error_class).inc()
                if exc.error_class != "auth_expired":
                    raise
                reason = f"{adapter.network} refused the refresh token: {exc.message}"
            else:
                if fresh is not None:
                    if not fresh.get("refresh_token") and creds.get("refresh_token"):
                        # A network that answers without a refresh token keeps the old one.
                        fresh = {**fresh, "refresh_token": creds["refresh_token"]}
                    seal(channel, fresh, keyring=self.keyring, adapter=adapter)
                    channel.updated_at = self.runtime.clock()
                    return fresh
                if ahead:
                    return creds
                # No refresh token (or none the adapter can use): as dead as a refused one.
                self.refresh_failures.labels(adapter.network, "auth_expired").inc()
                reason = f"{adapter.network} token expired and cannot be refreshed"
            await mark_needs_reauth(
                session, channel=channel, reason=reason, outbox=self.runtime.outbox
            )
        # Raised after the commit, so the status change and its event are kept.
        raise NeedsReauth(reason)


class NetworkLoop(Loop):
    """A loop that calls the networks for channels: what it needs, given once. A subclass
    says how it paces itself (`pace`) and sets up its own state in `started`."""

    def __init__(
        self,
        *,
        runtime: Runtime,
        settings: PublisherSettings,
        adapters: Adapters,
        credentials: Credentials,
    ) -> None:
        batch, every = self.pace(settings)
        super().__init__(runtime, batch=batch, every=every)
        self.settings = settings
        self.adapters = adapters
        self.credentials = credentials
        self.started()

    @staticmethod
    def pace(settings: PublisherSettings) -> tuple[int, float]:
        """How many items a step takes at most, and the seconds between short steps."""
        return settings.publish_batch, settings.poll_seconds

    def started(self) -> None:
        """Sets up what the subclass keeps besides (metrics, tasks in flight)."""


class PublishLoop(NetworkLoop):
    """Keeps up to `publish_concurrency` attempts in flight, claiming only as many jobs as
    there are free slots: a claimed job's lease then covers its own attempt, never time spent
    queueing behind others, and one slow network does not hold back a batch."""

    name = "publish-loop"
    wake_on = jobs.NOTIFY_CHANNEL

    def started(self) -> None:
        self.running: set[asyncio.Task[None]] = set()
        # outcome: published, retrying, failed, waiting (channel needs reauth), deferred (our
        # own rate-limit budget; nothing was sent) or lease_lost (not recorded by us);
        # error_class: the class of the error that decided it, "" when published.
        self.outcomes = self.runtime.metrics.counter(
            "herald_publisher_attempts_total",
            "Publish attempts (posts, replies, first comments) by network, outcome and error class",
            ["network", "outcome", "error_class"],
        )

    async def step(self) -> int:
        if len(self.running) >= self.settings.publish_concurrency:
            # Busy: claim again as soon as an attempt ends.
            await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
        free = self.settings.publish_concurrency - len(self.running)
        claimed = await self.run_once(limit=free)
        # Every free slot taken: there may be more due, so step again (once a slot frees).
        return self.batch if claimed == free else claimed

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            # Attempts cut short stay `sending`; they are reconciled once their lease ends.
            for task in self.running:
                task.cancel()
            await asyncio.gather(*self.running, return_exceptions=True)

    async def run_once(self, *, limit: int | None = None) -> int:
        """Claims due jobs (at most `limit`) and starts their attempts; returns how many."""
        async with unit_of_work(self.runtime.sessions) as session:
            claimed = await jobs.claim_due(
                session,
                now=self.clock(),
                lease_seconds=self.settings.lease_seconds,
                batch=min(limit or self.settings.publish_batch, self.settings.publish_batch),
            )
            attempts = [self.attempt_of(job) for job in claimed]
        # Committed: every claimed job now reads `sending` before any network call starts.
        for attempt in attempts:
            task = asyncio.create_task(self.settle(attempt))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        return len(attempts)

    @staticmethod
    def attempt_of(job: PublishJob) -> Attempt:
        assert job.lease_token is not None and job.sent_at is not None
        return Attempt(
            job_id=job.id,
            lease_token=job.lease_token,
            channel_id=job.channel_id,
            network=job.network,
            post=Outgoing(
                key=str(job.id),
                target_id=str(job.target_id),
                text=job.text,
                media=list(job.media),
                options=dict(job.options),
            ),
            reconcile=job.reconcile,
            sent_at=job.sent_at,
            attempts=job.attempts,
            kind=job.kind,
            parts=tuple(chains.from_record(p) for p in job.parts or []),
            retry_until=job.retry_until,
        )

    async def settle(self, attempt: Attempt) -> None:
        keeper = asyncio.create_task(self.keep_lease(attempt))
        try:
            wait = await budgets.take(
                self.runtime,
                self.settings,
                network=attempt.network,
                channel_id=attempt.channel_id,
                action=attempt.action,
            )
            if wait > 0:
                raise budgets.BudgetExhausted(wait)
            try:
                async with asyncio.timeout(self.settings.attempt_timeout_seconds):
                    outcome: Published | BaseException = await self.talk(attempt)
            except TimeoutError:
                # Cut off mid-flow: a write may have landed, so the next attempt looks first.
                outcome = NetworkError(
                    "unknown_outcome",
                    f"the attempt took longer than {self.settings.attempt_timeout_seconds:.0f} s",
                )
        except (
            NetworkError,
            NeedsReauth,
            ChannelGone,
            Exhausted,
            LeaseLost,
            budgets.BudgetExhausted,
        ) as exc:
            outcome = exc
        except Exception as exc:  # noqa: BLE001  (an adapter bug must not lose the job)
            log.exception("publishing %s failed unexpectedly", attempt.job_id)
            outcome = NetworkError("unknown_outcome", f"unexpected error: {exc!r}")
        finally:
            keeper.cancel()
        try:
            await self.record(attempt, outcome)
        except Exception:
            # The job stays `sending`; when its lease runs out it is reconciled, not resent.
            log.exception("could not record the outcome of %s", attempt.job_id)

    async def keep_lease(self, attempt: Attempt) -> None:
        """Extends the lease while the attempt runs (multi-step flows can outlast one lease),
        so another replica only takes the job over once this process has stopped."""
        every = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                async with unit_of_work(self.runtime.sessions) as session:
                    kept = await jobs.renew_lease(
                        session,
                        job_id=attempt.job_id,
                        lease_token=attempt.lease_token,
                        lease_seconds=self.settings.lease_seconds,
                    )
            except Exception:  # noqa: BLE001  (retried at the next beat)
                log.warning("could not extend the lease on %s", attempt.job_id, exc_info=True)
                continue
            if not kept:
                return

    async def talk(self, attempt: Attempt) -> Published:
        adapter = self.adapters.get(attempt.network)
        if adapter is None:
            raise NetworkError("content_rejected", f"{attempt.network} is not supported")
        channel, creds = await self.credentials.current(
            channel_id=attempt.channel_id, adapter=adapter
        )
        ref = ChannelRef(external_id=channel.external_id, username=channel.username)
        if chains.part_count(attempt.post) == 1:
            return await self.send(adapter, creds, ref, attempt, attempt.post, attempt.reconcile)
        return await self.send_thread(adapter, creds, ref, attempt)

    async def send_thread(
        self, adapter: Adapter, creds: dict[str, Any], ref: ChannelRef, attempt: Attempt
    ) -> Published:
        """Posts the parts not yet on the network, each answering the one before, keeping
        each as soon as the network has it. Only the first part not kept can have an
        unknown outcome from an earlier attempt, so only it is looked up before sending."""
        done = list(attempt.parts)
        for index in range(len(done), chains.part_count(attempt.post)):
            if index == 0:
                post = chains.head(attempt.post)
            else:
                post = chains.part(attempt.post, index=index, parent=done[-1], root=done[0])
            reconcile = attempt.reconcile and index == len(attempt.parts)
            published = await self.send(adapter, creds, ref, attempt, post, reconcile)
            async with unit_of_work(self.runtime.sessions) as session:
                kept = await jobs.record_part(
                    session,
                    job_id=attempt.job_id,
                    lease_token=attempt.lease_token,
                    index=index,
                    part=chains.as_record(published),
                )
            if not kept:
                raise LeaseLost(f"lost the lease after part {index + 1} of the thread")
            done.append(published)
        return done[0]

    async def send(
        self,
        adapter: Adapter,
        creds: dict[str, Any],
        ref: ChannelRef,
        attempt: Attempt,
        post: Outgoing,
        reconcile: bool,
    ) -> Published:
        """One write to the network; after an unknown outcome it looks the write up first."""
        if reconcile and not adapter.idempotent:
            found = await self.look_up(adapter, creds, ref, attempt, post)
            if found is not None:
                return found
            if self.past_deadline(attempt):
                raise Exhausted("gave up; the post was not found on the network")
        try:
            return await adapter.publish(creds, channel=ref, post=post)
        except NetworkError as exc:
            if exc.error_class == "auth_expired":
                # An expired-token answer: refresh once and try again with the new token.
                creds = await self.credentials.refresh(
                    channel_id=attempt.channel_id, adapter=adapter, stale=creds
                )
                return await adapter.publish(creds, channel=ref, post=post)
            if exc.error_class == "duplicate" and reconcile:
                # The network says we already posted this: an earlier attempt got through
                # after all, later than the lookup could see.
                found = await self.look_up(adapter, creds, ref, attempt, post)
                if found is not None:
                    return found
            raise

    def past_deadline(self, attempt: Attempt) -> bool:
        if attempt.retry_until is not None:
            return self.clock() > attempt.retry_until
        return attempt.attempts > self.settings.max_attempts

    async def look_up(
        self,
        adapter: Adapter,
        creds: dict[str, Any],
        ref: ChannelRef,
        attempt: Attempt,
        post: Outgoing,
    ) -> Published | None:
        slack = timedelta(seconds=self.settings.reconcile_slack_seconds)
        window = Lookup(
            channel=ref, post=post, since=attempt.sent_at - slack, until=self.clock() + slack
        )
        return await adapter.find_published(creds, window)

    async def record(self, attempt: Attempt, outcome: Published | BaseException) -> None:
        outbox = self.runtime.outbox
        error_class = error_class_of(outcome)
        async with unit_of_work(self.runtime.sessions) as session:
            job = await jobs.held(session, job_id=attempt.job_id, lease_token=attempt.lease_token)
            if job is None:
                log.warning("lost the lease on %s before recording its outcome", attempt.job_id)
                result = "lease_lost"
            elif isinstance(outcome, Published):
                await jobs.mark_published(session, job=job, published=outcome, outbox=outbox)
                result = "published"
            elif isinstance(outcome, budgets.BudgetExhausted):
                # Not an attempt: nothing was sent. The job waits for the window to free.
                job.attempts = max(0, job.attempts - 1)
                await jobs.schedule_retry(
                    session,
                    job=job,
                    error_class="rate_limited",
                    error=str(outcome),
                    delay=outcome.wait,
                    reconcile=False,
                )
                result = "deferred"
            elif isinstance(outcome, NeedsReauth):
                await jobs.mark_waiting(session, job=job, reason=str(outcome))
                result = "waiting"
            elif isinstance(outcome, ChannelGone):
                await jobs.mark_failed(
                    session,
                    job=job,
                    error_class=error_class,
                    error="The channel was disconnected before the post went out.",
                    outbox=outbox,
                )
                result = "failed"
            elif isinstance(outcome, Exhausted):
                await jobs.mark_failed(
                    session,
                    job=job,
                    error_class=error_class,
                    error=str(outcome),
                    outbox=outbox,
                )
                result = "failed"
            elif isinstance(outcome, NetworkError):
                result = await self.record_error(session, job=job, error=outcome)
            else:
                raise TypeError(f"unexpected outcome {outcome!r}")
        self.outcomes.labels(attempt.network, result, error_class).inc()

    async def record_error(self, session: Any, *, job: PublishJob, error: NetworkError) -> str:
        """Fails the job or schedules its retry; returns which ("failed" or "retrying").

        A post is retried until its missed-post deadline (what "scheduled for 9:00" means to
        its author), not for a fixed number of attempts."""
        outbox = self.runtime.outbox
        unknown = error.error_class == "unknown_outcome"
        delay = jobs.backoff_delay(
            attempts=job.attempts,
            base=self.settings.backoff_base_seconds,
            cap=self.settings.backoff_max_seconds,
            retry_after=error.retry_after,
        )
        late = jobs.out_of_time(
            job, now=self.clock(), delay=delay, max_attempts=self.settings.max_attempts
        )
        # An unknown outcome is never failed blind: the next attempt looks first.
        if error.error_class in PERMANENT or (late and not unknown):
            message = error.message
            if late and error.error_class not in PERMANENT:
                message = f"gave up after {job.attempts} attempt(s): {error.message}"
            await jobs.mark_failed(
                session, job=job, error_class=error.error_class, error=message, outbox=outbox
            )
            return "failed"
        await jobs.schedule_retry(
            session,
            job=job,
            error_class=error.error_class,
            error=error.message,
            delay=delay,
            reconcile=unknown,
            outbox=outbox,
        )
        return "retrying"


class Exhausted(Exception):
    pass


class LeaseLost(Exception):
    """Another replica took the job over; this attempt stops without recording anything."""


def error_class_of(outcome: Published | BaseException) -> str:
    """The error class an outcome is counted under ("" for a published post)."""
    if isinstance(outcome, Published):
        return ""
    if isinstance(outcome, NetworkError):
        return outcome.error_class
    if isinstance(outcome, budgets.BudgetExhausted):
        return "rate_limited"
    if isinstance(outcome, NeedsReauth):
        return "auth_expired"
    if isinstance(outcome, ChannelGone):
        return "channel_disconnected"
    if isinstance(outcome, Exhausted):
        return "unknown_outcome"
    return type(outcome).__name__.lower()
