"""Reports a person reads: asked for (`POST /v1/reports`) or due on a monthly schedule,
generated in the background, announced with `report.ready` and downloaded from signed links.

A report is a row of `reports`, the work queue: the loop claims a queued row with `FOR UPDATE
SKIP LOCKED` (replicas share the queue), marks it running and commits, generates the documents
outside any transaction (drawing takes CPU: in a worker thread), then stores them and the
`report.ready` event in one transaction. A replica that dies mid-way leaves the row running;
after `report_timeout_seconds` another one takes it over.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import Channel, Report, ReportSchedule
from services.metrics.report_document import render
from services.metrics.report_figures import gather
from services.metrics.reports import Range, check_channel
from services.metrics.settings import MetricsSettings
from services.metrics.wording import LANGUAGES, word
from shared.db import unit_of_work
from shared.errors import NotFound, ValidationFailed
from shared.events import Envelope, ReportFile, ReportReady
from shared.loops import Loop
from shared.pagination import decode_cursor, page_of
from shared.service import Runtime

log = logging.getLogger(__name__)

REPORT_CHANNEL = "metrics_reports"
FORMATS = ("pdf", "html", "csv")
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationFailed(f"Reports are written in: {', '.join(LANGUAGES)}.", field="language")
    return language


def check_timezone(name: str, *, field: str = "timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"Unknown time zone {name!r}.", field=field) from exc
    return name


async def check_scope(
    session: AsyncSession, *, workspace_id: UUID, channel_ids: list[UUID] | None
) -> list[UUID] | None:
    if not channel_ids:
        return None
    for channel_id in channel_ids:
        await check_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    return sorted(set(channel_ids))


async def request_report(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    rng: Range,
    campaign: str | None,
    channel_ids: list[UUID] | None,
    language: str,
    timezone: str,
    schedule_id: UUID | None = None,
) -> Report:
    report = Report(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        status="queued",
        range_start=rng.start,
        range_end=rng.end,
        campaign=campaign,
        channel_ids=channel_ids,
        language=language,
        timezone=timezone,
        schedule_id=schedule_id,
    )
    session.add(report)
    await session.flush()
    await session.execute(text(f"NOTIFY {REPORT_CHANNEL}"))
    return report


# --- signed download links -----------------------------------------------------------------


def _signature(secret: str, report_id: UUID, fmt: str, expires: int) -> str:
    message = f"{report_id}.{fmt}.{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def file_url(settings: MetricsSettings, report_id: UUID, fmt: str, *, expires: datetime) -> str:
    stamp = int(expires.timestamp())
    signature = _signature(settings.report_link_secret, report_id, fmt, stamp)
    base = settings.public_url.rstrip("/")
    return f"{base}/reports/{report_id}/report.{fmt}?expires={stamp}&signature={signature}"


def link_valid(
    settings: MetricsSettings,
    report_id: UUID,
    fmt: str,
    *,
    expires: int,
    signature: str,
    now: datetime,
) -> bool:
    expected = _signature(settings.report_link_secret, report_id, fmt, expires)
    return hmac.compare_digest(expected, signature) and now.timestamp() < expires


def files(
    settings: MetricsSettings, report_id: UUID, *, now: datetime
) -> tuple[list[ReportFile], datetime]:
    expires = now + timedelta(hours=settings.report_link_hours)
    return [
        ReportFile(format=f, url=file_url(settings, report_id, f, expires=expires)) for f in FORMATS
    ], expires  # type: ignore[arg-type]


# --- schedules -----------------------------------------------------------------------------


def next_run(*, day_of_month: int, at: str, timezone: str, after: datetime) -> datetime:
    """The first `day_of_month` at `at` (wall time in `timezone`) strictly after `after`."""
    zone = ZoneInfo(timezone)
    hour, minute = (int(p) for p in at.split(":"))
    local = after.astimezone(zone)
    year, month = local.year, local.month
    while True:
        candidate = datetime.combine(
            datetime(year, month, day_of_month).date(), time(hour, minute), tzinfo=zone
        )
        if candidate > after:
            return candidate.astimezone(UTC)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def previous_month(run_at: datetime, timezone: str) -> Range:
    """The calendar month before the one of `run_at`, in `timezone`."""
    zone = ZoneInfo(timezone)
    local = run_at.astimezone(zone)
    end = datetime(local.year, local.month, 1, tzinfo=zone)
    start = datetime(local.year - (local.month == 1), (local.month - 2) % 12 + 1, 1, tzinfo=zone)
    return Range(start.astimezone(UTC), end.astimezone(UTC))


async def queue_due_schedules(session: AsyncSession, *, now: datetime, batch: int = 50) -> int:
    schedules = (
        await session.scalars(
            select(ReportSchedule)
            .where(ReportSchedule.next_run_at <= now)
            .order_by(ReportSchedule.next_run_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for schedule in schedules:
        await request_report(
            session,
            workspace_id=schedule.workspace_id,
            rng=previous_month(schedule.next_run_at, schedule.timezone),
            campaign=schedule.campaign,
            channel_ids=schedule.channel_ids,
            language=schedule.language,
            timezone=schedule.timezone,
            schedule_id=schedule.id,
        )
        schedule.next_run_at = next_run(
            day_of_month=schedule.day_of_month,
            at=schedule.at,
            timezone=schedule.timezone,
            after=max(now, schedule.next_run_at),
        )
    await session.flush()
    return len(schedules)


# --- the loop ------------------------------------------------------------------------------


class ReportLoop(Loop):
    """Queues the reports of due schedules, then generates queued reports one at a time."""

    name = "reports"
    wake_on = REPORT_CHANNEL

    def __init__(self, runtime: Runtime, settings: MetricsSettings) -> None:
        super().__init__(runtime, batch=1, every=settings.report_poll_seconds)
        self.settings = settings
        self.generated = runtime.metrics.counter(
            "herald_metrics_reports_generated_total", "Reports generated"
        )
        self.seconds = runtime.metrics.histogram(
            "herald_metrics_report_seconds", "Time to generate one report"
        )

    async def claim(self, *, now: datetime) -> Report | None:
        stale = now - timedelta(seconds=self.settings.report_timeout_seconds)
        async with unit_of_work(self.runtime.sessions) as session:
            await queue_due_schedules(session, now=now)
            report = await session.scalar(
                select(Report)
                .where(
                    or_(
                        Report.status == "queued",
                        (Report.status == "running") & (Report.claimed_at < stale),
                    )
                )
                .order_by(Report.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if report is None:
                return None
            if report.attempts >= self.settings.report_max_attempts:
                report.status = "failed"
                report.error = report.error or "gave up after every attempt timed out"
                return None
            report.status, report.claimed_at = "running", now
            report.attempts += 1
            await session.flush()
            session.expunge(report)
        return report

    async def generate(self, report: Report, *, now: datetime) -> None:
        started = asyncio.get_running_loop().time()
        try:
            async with self.runtime.sessions() as session:
                figures = await gather(
                    session,
                    workspace_id=report.workspace_id,
                    rng=Range(report.range_start, report.range_end),
                    campaign=report.campaign,
                    channel_ids=tuple(report.channel_ids or ()),
                    timezone=report.timezone,
                    prior_posts=self.settings.best_times_prior_posts,
                    slot_count=self.settings.best_times_slots,
                    now=now,
                )
                scope = await scope_text(session, report)
            documents = await asyncio.to_thread(
                render, figures, language=report.language, scope=scope
            )
        except Exception as exc:  # a report that cannot be drawn must not stop the loop
            log.exception("report %s could not be generated", report.id)
            await self._failed(report, f"{type(exc).__name__}: {exc}")
            return
        async with unit_of_work(self.runtime.sessions) as session:
            row = await session.get(Report, report.id, with_for_update=True)
            if row is None or row.status != "running" or row.claimed_at != report.claimed_at:
                return  # another replica took it over meanwhile and answers for it
            row.status, row.ready_at = "ready", now
            row.figures, row.error = figures, None
            row.pdf, row.html, row.csv = documents.pdf, documents.html, documents.csv
            links, expires = files(self.settings, row.id, now=now)
            await self.runtime.outbox.add(
                session,
                Envelope.of(
                    ReportReady(
                        report_id=row.id,
                        range_start=row.range_start,
                        range_end=row.range_end,
                        language=row.language,
                        campaign=row.campaign,
                        channel_ids=row.channel_ids,
                        schedule_id=row.schedule_id,
                        download_url=links[0].url,
                        files=links,
                        expires_at=expires,
                    ),
                    workspace_id=row.workspace_id,
                ),
            )
        self.generated.inc()
        self.seconds.observe(asyncio.get_running_loop().time() - started)

    async def _failed(self, report: Report, error: str) -> None:
        async with unit_of_work(self.runtime.sessions) as session:
            row = await session.get(Report, report.id, with_for_update=True)
            if row is not None and row.status == "running":
                give_up = row.attempts >= self.settings.report_max_attempts
                row.status = "failed" if give_up else "queued"
                row.error = error[:2000]

    async def run_once(self) -> bool:
        now = self.clock()
        report = await self.claim(now=now)
        if report is None:
            return False
        await self.generate(report, now=now)
        return True

    async def step(self) -> int:
        return 1 if await self.run_once() else 0


async def scope_text(session: AsyncSession, report: Report) -> str:
    """What the report covers, in its language: every channel, a campaign, or some channels."""
    lang = report.language
    if report.channel_ids:
        names = (
            await session.scalars(
                select(Channel.name)
                .where(Channel.channel_id.in_(report.channel_ids))
                .order_by(Channel.name)
            )
        ).all()
        text_ = f"{word('channels', lang)}: {', '.join(n or '?' for n in names)}"
    else:
        text_ = word("whole_workspace", lang)
    if report.campaign:
        text_ += f"; {word('campaign', lang)}: {report.campaign}"
    return text_


def report_view(report: Report, settings: MetricsSettings, *, now: datetime) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": report.id,
        "status": report.status,
        "from_": report.range_start,
        "to": report.range_end,
        "campaign_id": report.campaign,
        "channel_ids": report.channel_ids,
        "language": report.language,
        "timezone": report.timezone,
        "schedule_id": report.schedule_id,
        "created_at": report.created_at,
        "ready_at": report.ready_at,
        "error": report.error,
    }
    if report.status == "ready":
        links, expires = files(settings, report.id, now=now)
        view |= {
            "download_url": links[0].url,
            "files": [f.model_dump() for f in links],
            "expires_at": expires,
            "figures": report.figures,
        }
    return view


# --- reading back ------------------------------------------------------------------------


async def find_report(session: AsyncSession, *, workspace_id: UUID, report_id: UUID) -> Report:
    row = await session.get(Report, report_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(f"No report {report_id}.", field="report_id")
    return row


async def find_schedule(
    session: AsyncSession, *, workspace_id: UUID, schedule_id: UUID
) -> ReportSchedule:
    row = await session.get(ReportSchedule, schedule_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(f"No report schedule {schedule_id}.", field="schedule_id")
    return row


async def list_reports(
    session: AsyncSession, *, workspace_id: UUID, limit: int, cursor: str | None
) -> tuple[list[Report], str | None]:
    """A page of the workspace's reports, newest first, and the cursor of the next one."""
    query = (
        select(Report)
        .where(Report.workspace_id == workspace_id)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(limit + 1)
    )
    if (after := decode_cursor(cursor)) is not None:
        query = query.where(tuple_(Report.created_at, Report.id) < tuple_(*after))
    return page_of((await session.scalars(query)).all(), limit)


async def list_schedules(
    session: AsyncSession, *, workspace_id: UUID, limit: int, cursor: str | None
) -> tuple[list[ReportSchedule], str | None]:
    """A page of the workspace's report schedules, oldest first."""
    query = (
        select(ReportSchedule)
        .where(ReportSchedule.workspace_id == workspace_id)
        .order_by(ReportSchedule.created_at, ReportSchedule.id)
        .limit(limit + 1)
    )
    if (after := decode_cursor(cursor)) is not None:
        query = query.where(tuple_(ReportSchedule.created_at, ReportSchedule.id) > tuple_(*after))
    return page_of((await session.scalars(query)).all(), limit)

