"""Crisis detection: a wave of negative messages, measured against the scope's own baseline.

For every workspace, and for each of its channels, the inbound messages of the recent window
are counted and compared with what is usual for that scope at that hour of the week: the
same window one, two … `baseline_weeks` weeks ago, together with the baseline period just
before the window (so a new workspace, without weeks of history, still has a baseline). A
Sunday-night spike is measured against Sunday nights, a Monday morning against Monday
mornings.

A crisis is raised when the window holds enough messages, clearly more than usual, and a
share of negative ones that is high both on its own and compared with the baseline's share.
The counts are taken for all messages and for each language on its own, so a storm in the
Hebrew-speaking community is seen even while the English-speaking one is busy and calm.
Messages no scorer covers (sentiment null) count towards volume but not towards the negative
share: unknown is unknown. The alert says why: the figures, the languages, the phrases that
recur in the negative messages and the messages to read first. A workspace may ask for its
queue to be frozen when an alert is raised (`freeze_queue`): the scheduler hears of it by
`queue.freeze_requested`.

It resolves itself once the condition has not held for the calm period. Time is what the
caller says it is (`now`), and messages count by when they were written, so a late delivery
lands in the window it belongs to.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, union
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox import phrases
from services.inbox.models import Alert, Channel, CrisisSettings, Message
from shared.events import (
    AlertRaised,
    AlertResolved,
    AlertSample,
    CrisisDetected,
    CrisisResolved,
    Envelope,
    QueueFreezeRequested,
)
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
    # Weeks of history the hour-of-week baseline looks back over (0: the recent period only).
    baseline_weeks: int = 4
    # A raised alert asks the scheduler to freeze the queue of its scope.
    freeze_queue: bool = False

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
            baseline_weeks=row.baseline_weeks,
            freeze_queue=row.freeze_queue,
        )


DEFAULTS = Thresholds()


@dataclass(frozen=True)
class Counts:
    window: int = 0
    negative: int = 0
    baseline: int = 0
    baseline_negative: int = 0
    # Messages with a sentiment (the rest are in languages no scorer covers); None: all.
    scored: int | None = None
    baseline_scored: int | None = None
    # Messages in the same window of each of the previous weeks with history, summed, and
    # how many weeks that is.
    weekly: int = 0
    weeks: int = 0


def expected_in_window(counts: Counts, thresholds: Thresholds) -> float:
    """What is usual for the window: the recent period's rate scaled to one window, and the
    same hour of the week in each previous week with history, averaged together."""
    window = timedelta(minutes=thresholds.window_minutes)
    baseline = timedelta(hours=thresholds.baseline_hours)
    recent = counts.baseline * (window / baseline) if baseline else 0.0
    return (recent + counts.weekly) / (1 + counts.weeks)


def assess(counts: Counts, thresholds: Thresholds) -> tuple[bool, dict[str, Any]]:
    """Whether the counts are a crisis under the thresholds, and the figures that say so."""
    expected = expected_in_window(counts, thresholds)
    scored = counts.window if counts.scored is None else counts.scored
    baseline_scored = counts.baseline if counts.baseline_scored is None else counts.baseline_scored
    share = counts.negative / scored if scored else 0.0
    baseline_share = counts.baseline_negative / baseline_scored if baseline_scored else 0.0
    volume_ratio = counts.window / expected if expected else None
    loud = (
        counts.window >= thresholds.min_messages
        and counts.window >= thresholds.volume_factor * expected
    )
    negative = (
        share >= thresholds.negative_share
        and share >= baseline_share + thresholds.negative_share_rise
        # A share over a handful of scored messages (the rest unknown) says little.
        and counts.negative >= thresholds.negative_share * thresholds.min_messages
    )
    figures = {
        "window_count": counts.window,
        "scored_count": scored,
        "negative_count": counts.negative,
        "negative_share": round(share, 4),
        "baseline_count": counts.baseline,
        "baseline_negative_count": counts.baseline_negative,
        "baseline_per_window": round(expected, 4),
        "weekly_count": counts.weekly,
        "weeks_of_history": counts.weeks,
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


# Per channel and language, per channel, per language, and in all: GROUPING tells a rolled-up
# row from a message whose language is null.
COUNTS = text(
    """
    SELECT channel_id, language,
           GROUPING(channel_id) AS all_channels, GROUPING(language) AS all_languages,
           count(*) FILTER (WHERE sent_at > :window_start) AS window,
           count(*) FILTER (WHERE sent_at > :window_start AND sentiment <= :neg) AS negative,
           count(sentiment) FILTER (WHERE sent_at > :window_start) AS scored,
           count(*) FILTER (WHERE sent_at <= :window_start) AS baseline,
           count(*) FILTER (WHERE sent_at <= :window_start AND sentiment <= :neg)
               AS baseline_negative,
           count(sentiment) FILTER (WHERE sent_at <= :window_start) AS baseline_scored
    FROM inbox.messages
    WHERE workspace_id = :workspace_id AND direction = 'inbound'
      AND sent_at > :baseline_start AND sent_at <= :now
    GROUP BY GROUPING SETS ((channel_id, language), (channel_id), (language), ())
    """
)

# The same window in each previous week (the bounds are passed as arrays).
WEEKLY = text(
    """
    SELECT channel_id, language,
           GROUPING(channel_id) AS all_channels, GROUPING(language) AS all_languages,
           count(*) AS weekly
    FROM inbox.messages m
    JOIN unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) AS w(s, e)
      ON m.sent_at > w.s AND m.sent_at <= w.e
    WHERE m.workspace_id = :workspace_id AND m.direction = 'inbound'
    GROUP BY GROUPING SETS ((channel_id, language), (channel_id), (language), ())
    """
)

Key = tuple[uuid.UUID | None, str | None]
# The key of a rolled-up row: all channels (the workspace) or all languages.
ALL = "*"


def _key(row: Any) -> tuple[Any, Any]:
    return (ALL if row.all_channels else row.channel_id,
            ALL if row.all_languages else row.language)


async def _counts(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    thresholds: Thresholds,
    window_start: datetime,
    baseline_start: datetime,
    now: datetime,
) -> dict[tuple[Any, Any], Counts]:
    params = {"workspace_id": workspace_id, "window_start": window_start,
              "baseline_start": baseline_start, "now": now, "neg": NEGATIVE_AT_MOST}
    rows = (await session.execute(COUNTS, params)).all()
    weeks = await _weeks_of_history(
        session, workspace_id=workspace_id, window_start=window_start,
        most=thresholds.baseline_weeks,
    )
    weekly: dict[tuple[Any, Any], int] = {}
    if weeks:
        week = timedelta(weeks=1)
        found = await session.execute(WEEKLY, {
            "workspace_id": workspace_id,
            "starts": [window_start - k * week for k in range(1, weeks + 1)],
            "ends": [now - k * week for k in range(1, weeks + 1)],
        })
        weekly = {_key(row): row.weekly for row in found}
    counts = {
        _key(row): Counts(
            window=row.window, negative=row.negative, scored=row.scored,
            baseline=row.baseline, baseline_negative=row.baseline_negative,
            baseline_scored=row.baseline_scored, weekly=weekly.get(_key(row), 0), weeks=weeks,
        )
        for row in rows
    }
    # A scope quiet now but busy at this hour in weeks past still has its usual count.
    for key, n in weekly.items():
        counts.setdefault(key, Counts(weekly=n, weeks=weeks))
    return counts


async def _weeks_of_history(
    session: AsyncSession, *, workspace_id: uuid.UUID, window_start: datetime, most: int
) -> int:
    """Previous weeks whose window the workspace already had messages before: a week from
    before its first message would count as a silent one and pull the baseline down."""
    if most <= 0:
        return 0
    first = await session.scalar(
        select(func.min(Message.sent_at)).where(
            Message.workspace_id == workspace_id, Message.direction == "inbound"
        )
    )
    if first is None:
        return 0
    return max(0, min(most, int((window_start - first) / timedelta(weeks=1))))


def _scope_assessment(
    counts: dict[tuple[Any, Any], Counts], channel: Any, thresholds: Thresholds
) -> tuple[bool, dict[str, Any]]:
    """The scope's own figures, and each language's: a crisis in all of it or in one
    language's messages."""
    crisis, figures = assess(counts.get((channel, ALL), Counts()), thresholds)
    languages: dict[str, Any] = {}
    triggered: list[str] = []
    for (scope, language), language_counts in counts.items():
        if scope != channel or language == ALL:
            continue
        hit, language_figures = assess(language_counts, thresholds)
        name = language or "unknown"
        languages[name] = {
            key: language_figures[key]
            for key in ("window_count", "negative_count", "negative_share",
                        "baseline_per_window", "volume_ratio")
        } | {"crisis": hit}
        if hit and language is not None:
            triggered.append(name)
    figures["languages"] = dict(
        sorted(languages.items(), key=lambda kv: -kv[1]["window_count"])
    )
    figures["crisis_languages"] = sorted(
        triggered, key=lambda code: -languages[code]["window_count"]
    )
    return crisis or bool(triggered), figures


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
    counts = await _counts(
        session, workspace_id=workspace_id, thresholds=thresholds,
        window_start=window_start, baseline_start=baseline_start, now=now,
    )
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
    scopes.update({str(c): c for c, _ in counts if c not in (ALL, None)})
    scopes.update({scope: alert.channel_id for scope, alert in open_alerts.items()})
    frame = {
        "window_start": window_start.isoformat(),
        "window_end": now.isoformat(),
        "window_minutes": thresholds.window_minutes,
        "hour_of_week": now.strftime("%a %H:%M UTC"),
        "baseline_start": baseline_start.isoformat(),
        "baseline_hours": thresholds.baseline_hours,
        "thresholds": asdict(thresholds),
    }
    for scope, channel_id in scopes.items():
        crisis, figures = _scope_assessment(
            counts, ALL if channel_id is None else channel_id, thresholds
        )
        evidence = {
            "scope": scope,
            "channel_id": str(channel_id) if channel_id else None,
            **frame,
            **figures,
        }
        evidence["reason"] = reason(evidence)
        alert = open_alerts.get(scope)
        if crisis:
            await _explain(session, evidence=evidence, workspace_id=workspace_id,
                           channel_id=channel_id, window_start=window_start,
                           baseline_start=baseline_start, now=now)
            if alert is None:
                alert = await _raise(
                    session,
                    outbox=outbox,
                    workspace_id=workspace_id,
                    scope=scope,
                    channel_id=channel_id,
                    now=now,
                    evidence=evidence,
                    freeze_queue=thresholds.freeze_queue,
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
                await _resolve(session, outbox=outbox, alert=alert, now=now)
                result.resolved.append(alert.id)
    await session.flush()


def reason(evidence: dict[str, Any]) -> str:
    """One sentence with the figures: what a person reads in the alert's title."""
    ratio = evidence.get("volume_ratio")
    usual = f"{evidence['baseline_per_window']:.1f} usual for {evidence['hour_of_week']}"
    volume = (f"{ratio:.1f}× the {usual}" if ratio is not None else f"none usual ({usual})")
    languages = ", ".join(
        f"{code} {figures['window_count']}"
        for code, figures in list(evidence.get("languages", {}).items())[:4]
    )
    crisis_languages = evidence.get("crisis_languages") or []
    where = f"; crisis in {', '.join(crisis_languages)}" if crisis_languages else ""
    return (
        f"{evidence['window_count']} messages in {evidence['window_minutes']} min "
        f"({volume}), {evidence['negative_share']:.0%} negative "
        f"(usually {evidence['baseline_negative_share']:.0%}); languages: "
        f"{languages or 'none'}{where}"
    )


async def _explain(
    session: AsyncSession,
    *,
    evidence: dict[str, Any],
    workspace_id: uuid.UUID,
    channel_id: uuid.UUID | None,
    window_start: datetime,
    baseline_start: datetime,
    now: datetime,
) -> None:
    """Adds what people say: the most negative messages and the phrases that recur in the
    window's negative messages far more than in the baseline's."""
    scope = [Message.workspace_id == workspace_id, Message.direction == "inbound"]
    if channel_id is not None:
        scope.append(Message.channel_id == channel_id)
    worst = (
        await session.execute(
            select(Message.id, Message.text, Message.language, Message.sentiment,
                   Message.sent_at)
            .where(*scope, Message.sent_at > window_start, Message.sent_at <= now,
                   Message.sentiment <= NEGATIVE_AT_MOST)
            .order_by(Message.sentiment, Message.sent_at.desc())
            .limit(phrases.WINDOW_TEXTS)
        )
    ).all()
    usual = (
        await session.scalars(
            select(Message.text)
            .where(*scope, Message.sent_at > baseline_start, Message.sent_at <= window_start)
            .order_by(Message.sent_at.desc())
            .limit(phrases.BASELINE_TEXTS)
        )
    ).all()
    samples = worst[:SAMPLE_SIZE]
    evidence["sample_message_ids"] = [str(row.id) for row in samples]
    evidence["samples"] = [
        AlertSample(message_id=row.id, text=row.text[:500], language=row.language,
                    sentiment=row.sentiment, sent_at=row.sent_at).model_dump(mode="json")
        for row in samples
    ]
    evidence["top_phrases"] = phrases.distinctive([row.text for row in worst], list(usual))


async def _raise(
    session: AsyncSession,
    *,
    outbox: Outbox,
    workspace_id: uuid.UUID,
    scope: str,
    channel_id: uuid.UUID | None,
    now: datetime,
    evidence: dict[str, Any],
    freeze_queue: bool,
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
    languages = evidence.get("crisis_languages") or [
        code for code in evidence.get("languages", {}) if code != "unknown"
    ]
    envelopes = [
        Envelope.of(
            CrisisDetected(
                alert_id=alert.id, channel_id=channel_id, evidence=evidence, detected_at=now
            ),
            workspace_id=workspace_id,
        ),
        Envelope.of(
            AlertRaised(
                alert_id=alert.id,
                scope=scope,
                channel_id=channel_id,
                detected_at=now,
                reason=evidence["reason"],
                languages=languages,
                top_phrases=evidence.get("top_phrases", []),
                samples=[AlertSample.model_validate(s) for s in evidence.get("samples", [])],
                figures={k: v for k, v in evidence.items()
                         if k not in ("samples", "sample_message_ids", "top_phrases")},
                freeze_requested=freeze_queue,
            ),
            workspace_id=workspace_id,
        ),
    ]
    if freeze_queue:
        # The scheduler owns the queue: it is asked, and says `queue.frozen` when it is.
        envelopes.append(
            Envelope.of(
                QueueFreezeRequested(
                    channel_id=channel_id,
                    reason=f"Crisis alert: {evidence['reason']}",
                    requested_by=f"alert:{alert.id}",
                    alert_id=alert.id,
                    requested_at=now,
                ),
                workspace_id=workspace_id,
            )
        )
    await outbox.add(session, *envelopes)
    return alert


async def _resolve(session: AsyncSession, *, outbox: Outbox, alert: Alert, now: datetime) -> None:
    alert.status = "resolved"
    alert.resolved_at = now
    await outbox.add(
        session,
        Envelope.of(
            CrisisResolved(alert_id=alert.id, resolved_at=now), workspace_id=alert.workspace_id
        ),
        Envelope.of(
            AlertResolved(alert_id=alert.id, scope=alert.scope, channel_id=alert.channel_id,
                          detected_at=alert.detected_at, resolved_at=now),
            workspace_id=alert.workspace_id,
        ),
    )
