"""Crisis detection: a wave of negative messages, measured against the scope's own baseline.

For every workspace, and for each of its channels, the inbound messages of the recent window
are counted and compared with the baseline period just before it. A crisis is raised when the
window holds enough messages, clearly more than the baseline's rate, and a share of negative
ones that is high both on its own and compared with the baseline's share. It resolves itself
once the condition has not held for the calm period. Time is what the caller says it is
(`now`), and messages count by when they were written, so a late delivery lands in the
window it belongs to.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, union
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.models import Alert, Channel, CrisisSettings, Message
from shared.events import CrisisDetected, CrisisResolved, Envelope
from shared.outbox import Outbox

# VADER's cut-off: a message at or below it counts as negative.
NEGATIVE_AT_MOST = -0.05
# pg_try_advisory_xact_lock key: one evaluator at a time across replicas.
LOCK_KEY = 0x1B0C_C215
SAMPLE_SIZE = 10
WORKSPACE_SCOPE = "workspace"


@dataclass(frozen=True)
class Thresholds:
    window_minutes: int = 30
    baseline_hours: float = 24.0
    min_messages: int = 20
    volume_factor: float = 3.0
    negative_share: float = 0.5
    negative_share_rise: float = 0.2
    calm_minutes: int = 30
    enabled: bool = True

    @classmethod
    def of(cls, row: CrisisSettings | None) -> Thresholds:
        if row is None:
            return cls()
        return cls(
            window_minutes=row.window_minutes,
            baseline_hours=row.baseline_hours,
            min_messages=row.min_messages,
            volume_factor=row.volume_factor,
            negative_share=row.negative_share,
            negative_share_rise=row.negative_share_rise,
            calm_minutes=row.calm_minutes,
            enabled=row.enabled,
        )


DEFAULTS = Thresholds()


@dataclass(frozen=True)
class Counts:
    window: int = 0
    negative: int = 0
    baseline: int = 0
    baseline_negative: int = 0


def assess(counts: Counts, thresholds: Thresholds) -> tuple[bool, dict[str, Any]]:
    """Whether the counts are a crisis under the thresholds, and the figures that say so."""
    window = timedelta(minutes=thresholds.window_minutes)
    baseline = timedelta(hours=thresholds.baseline_hours)
    # The baseline's rate, scaled to one window: what "normal" would have put in the window.
    expected = counts.baseline * (window / baseline) if baseline else 0.0
    share = counts.negative / counts.window if counts.window else 0.0
    baseline_share = counts.baseline_negative / counts.baseline if counts.baseline else 0.0
    volume_ratio = counts.window / expected if expected else None
    loud = (
        counts.window >= thresholds.min_messages
        and counts.window >= thresholds.volume_factor * expected
    )
    negative = (
        share >= thresholds.negative_share
        and share >= baseline_share + thresholds.negative_share_rise
    )
    figures = {
        "window_count": counts.window,
        "negative_count": counts.negative,
        "negative_share": round(share, 4),
        "baseline_count": counts.baseline,
        "baseline_negative_count": counts.baseline_negative,
        "baseline_per_window": round(expected, 4),
        "baseline_negative_share": round(baseline_share, 4),
        "volume_ratio": round(volume_ratio, 4) if volume_ratio is not None else None,
    }
    return thresholds.enabled and loud and negative, figures


async def thresholds_for(session: AsyncSession, workspace_id: uuid.UUID) -> Thresholds:
    return Thresholds.of(await session.get(CrisisSettings, workspace_id))


@dataclass
class Evaluation:
    raised: list[uuid.UUID]
    resolved: list[uuid.UUID]


async def evaluate(session: AsyncSession, *, outbox: Outbox, now: datetime) -> Evaluation | None:
    """Looks at every workspace with recent messages or an open alert; None if another
    replica is evaluating right now."""
    if not await session.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY))):
        return None
    result = Evaluation(raised=[], resolved=[])
    # Every workspace with a channel (a small table) or an open alert; each one's counts are
    # then a range scan of its own recent messages (ix_inbox_messages_workspace_sent).
    active = union(
        select(Channel.workspace_id),
        select(Alert.workspace_id).where(Alert.status == "open"),
    )
    for workspace_id in (await session.scalars(select(active.subquery().c[0]))).all():
        await _evaluate_workspace(
            session, outbox=outbox, workspace_id=workspace_id, now=now, result=result
        )
    return result


COUNTS = text(
    """
    SELECT channel_id,
           count(*) FILTER (WHERE sent_at > :window_start) AS window,
           count(*) FILTER (WHERE sent_at > :window_start AND sentiment <= :neg) AS negative,
           count(*) FILTER (WHERE sent_at <= :window_start) AS baseline,
           count(*) FILTER (WHERE sent_at <= :window_start AND sentiment <= :neg)
               AS baseline_negative
    FROM inbox.messages
    WHERE workspace_id = :workspace_id AND direction = 'inbound'
      AND sent_at > :baseline_start AND sent_at <= :now
    GROUP BY ROLLUP (channel_id)
    """
)


async def _evaluate_workspace(
    session: AsyncSession,
    *,
    outbox: Outbox,
    workspace_id: uuid.UUID,
    now: datetime,
    result: Evaluation,
) -> None:
    thresholds = await thresholds_for(session, workspace_id)
    window_start = now - timedelta(minutes=thresholds.window_minutes)
    baseline_start = window_start - timedelta(hours=thresholds.baseline_hours)
    rows = (
        await session.execute(
            COUNTS,
            {
                "workspace_id": workspace_id,
                "window_start": window_start,
                "baseline_start": baseline_start,
                "now": now,
                "neg": NEGATIVE_AT_MOST,
            },
        )
    ).all()
    # ROLLUP's grand total has no channel (a message always has one): the workspace's row.
    counts: dict[uuid.UUID | None, Counts] = {
        row.channel_id: Counts(row.window, row.negative, row.baseline, row.baseline_negative)
        for row in rows
    }
    open_alerts = {
        alert.scope: alert
        for alert in (
            await session.scalars(
                select(Alert)
                .where(Alert.workspace_id == workspace_id, Alert.status == "open")
                .with_for_update()
            )
        ).all()
    }
    scopes: dict[str, uuid.UUID | None] = {WORKSPACE_SCOPE: None}
    scopes.update({str(c): c for c in counts if c is not None})
    scopes.update({scope: alert.channel_id for scope, alert in open_alerts.items()})
    frame = {
        "window_start": window_start.isoformat(),
        "window_end": now.isoformat(),
        "window_minutes": thresholds.window_minutes,
        "baseline_start": baseline_start.isoformat(),
        "baseline_hours": thresholds.baseline_hours,
        "thresholds": asdict(thresholds),
    }
    for scope, channel_id in scopes.items():
        crisis, figures = assess(counts.get(channel_id, Counts()), thresholds)
        evidence = {
            "scope": scope,
            "channel_id": str(channel_id) if channel_id else None,
            **frame,
            **figures,
        }
        alert = open_alerts.get(scope)
        if crisis:
            evidence["sample_message_ids"] = await _samples(
                session,
                workspace_id=workspace_id,
                channel_id=channel_id,
                window_start=window_start,
                now=now,
            )
            if alert is None:
                alert = await _raise(
                    session,
                    outbox=outbox,
                    workspace_id=workspace_id,
                    scope=scope,
                    channel_id=channel_id,
                    now=now,
                    evidence=evidence,
                )
                result.raised.append(alert.id)
                continue
            alert.last_seen_at = now
            alert.latest = evidence
            if figures["negative_count"] > alert.peak.get("negative_count", 0):
                alert.peak = evidence
        elif alert is not None:
            alert.latest = evidence
            if now - alert.last_seen_at >= timedelta(minutes=thresholds.calm_minutes):
                alert.status = "resolved"
                alert.resolved_at = now
                await outbox.add(
                    session,
                    Envelope.of(
                        CrisisResolved(alert_id=alert.id, resolved_at=now),
                        workspace_id=workspace_id,
                    ),
                )
                result.resolved.append(alert.id)
    await session.flush()


async def _samples(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    channel_id: uuid.UUID | None,
    window_start: datetime,
    now: datetime,
) -> list[str]:
    """The most negative messages of the window: what a person reads first."""
    query = select(Message.id).where(
        Message.workspace_id == workspace_id,
        Message.direction == "inbound",
        Message.sent_at > window_start,
        Message.sent_at <= now,
        Message.sentiment <= NEGATIVE_AT_MOST,
    )
    if channel_id is not None:
        query = query.where(Message.channel_id == channel_id)
    query = query.order_by(Message.sentiment, Message.sent_at.desc()).limit(SAMPLE_SIZE)
    return [str(i) for i in (await session.scalars(query)).all()]


async def _raise(
    session: AsyncSession,
    *,
    outbox: Outbox,
    workspace_id: uuid.UUID,
    scope: str,
    channel_id: uuid.UUID | None,
    now: datetime,
    evidence: dict[str, Any],
) -> Alert:
    alert = Alert(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        scope=scope,
        channel_id=channel_id,
        status="open",
        detected_at=now,
        last_seen_at=now,
        evidence=evidence,
        peak=evidence,
        latest=evidence,
    )
    session.add(alert)
    await session.flush()
    await outbox.add(
        session,
        Envelope.of(
            CrisisDetected(
                alert_id=alert.id, channel_id=channel_id, evidence=evidence, detected_at=now
            ),
            workspace_id=workspace_id,
        ),
    )
    return alert
