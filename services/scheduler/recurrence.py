"""Recurring posts: RFC 5545 RRULE (+ EXDATE) expanded on the wall clock of the post's zone.

Occurrences are expanded in LOCAL time and only then converted with `timing.to_utc`, so
"every Monday at 09:00 in Europe/London" stays 09:00 on the London clock across DST (and a
09:00 that falls in a DST gap follows the rule of `to_utc`).

How occurrences become rows (a rolling window): every occurrence due within
`horizon` (the `recurrence_horizon_days` setting) is a target row of its own, and always at
least the next one. Each time the dispatcher claims an occurrence it tops the window up in the
same transaction, so the calendar (and the dispatcher's work queue) hold real rows for the
coming weeks, and published occurrences keep their own outcome (external id, url, error).

What one expansion may cost is bounded: `at` is at most MAX_START_AGE in the past when a
schedule is given, the walk starts on the rule's own grid close before the instant asked
about (not at DTSTART, which may be long ago), and it may make at most WALK_BUDGET Python
calls, since dateutil walks a rule that never matches period by period until year 9999.
The async callers run it in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, HOURLY, WEEKLY, rrule, rruleset, rrulestr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Target
from services.scheduler.schemas import ScheduleIn
from services.scheduler.timing import to_utc
from shared.errors import ValidationFailed

log = logging.getLogger(__name__)
T = TypeVar("T")

# The most occurrences one target may have as rows at once, whatever the horizon.
MAX_MATERIALISED = 400
# How far back a recurring schedule given now may start.
MAX_START_AGE = timedelta(days=366)
# Python calls one expansion may make: about a tenth of a second of CPU, tens of thousands of
# occurrences or of periods walked without a match.
WALK_BUDGET = 200_000
# Frequencies whose grid is a fixed step of the local clock: the walk may start on the grid
# near the instant asked about. (Months and years have no fixed length; they are few anyway.)
_STEPS = {HOURLY: timedelta(hours=1), DAILY: timedelta(days=1), WEEKLY: timedelta(weeks=1)}
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)
_FORBIDDEN = ("DTSTART", "SECONDLY", "MINUTELY", "RDATE", "EXDATE")


def _naive_local(value: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz`: naive values are already local, aware ones are converted."""
    if value.tzinfo is None:
        return value
    return value.astimezone(tz).replace(tzinfo=None)


class RuleTooCostly(ValidationFailed):
    """Expanding the rule took more than WALK_BUDGET: it (almost) never matches."""


def build_rule(
    schedule: ScheduleIn | dict[str, Any], tz: ZoneInfo, *, near: datetime | None = None
) -> rruleset:
    """The schedule's occurrences as naive local datetimes (a dateutil rule set).

    `at` is the first occurrence (DTSTART) on `tz`'s wall clock. An `UNTIL=…Z` (UTC, as RFC
    5545 asks when DTSTART has a zone) is converted to the local clock; `until` and `count` in
    the schedule are shorthands for the RRULE parts. Raises ValidationFailed naming the field.
    With `near` (a naive local time), the rule set yields every occurrence from `near` on but
    may skip earlier ones.
    """
    if isinstance(schedule, dict):
        schedule = ScheduleIn.model_validate(schedule)
    assert schedule.rrule is not None and schedule.at is not None
    raw = _rule_text(schedule, tz)
    start = _naive_local(schedule.at, tz)
    try:
        rule = rrulestr(raw, dtstart=start, ignoretz=True)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValidationFailed(
            f"schedule.rrule is not a valid RFC 5545 RRULE: {exc}", field="schedule.rrule"
        ) from exc
    if not isinstance(rule, rrule):
        raise ValidationFailed("schedule.rrule must be a single RRULE.", field="schedule.rrule")
    rules = rruleset()
    rules.rrule(_started_near(rule, near) if near is not None else rule)
    for exdate in schedule.exdates:
        rules.exdate(_naive_local(exdate, tz))
    return rules


def _rule_text(schedule: ScheduleIn, tz: ZoneInfo) -> str:
    """The RRULE's text on `tz`'s wall clock, with `until` and `count` added to it."""
    assert schedule.rrule is not None
    raw = schedule.rrule.strip()
    if raw.upper().startswith("RRULE:"):
        raw = raw[6:]
    upper = raw.upper()
    for word in _FORBIDDEN:
        if word in upper:
            raise ValidationFailed(
                f"{word} is not accepted in schedule.rrule (the first occurrence is "
                "schedule.at; posts recur at most hourly; exclusions go in schedule.exdates).",
                field="schedule.rrule",
            )

    def local_until(match: re.Match[str]) -> str:
        instant = datetime.strptime(match[1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        return "UNTIL=" + instant.astimezone(tz).strftime("%Y%m%dT%H%M%S")

    raw = _UNTIL_UTC.sub(local_until, raw)
    if schedule.until is not None:
        if "UNTIL=" in upper or "COUNT=" in upper:
            raise ValidationFailed(
                "Give until either in the RRULE or in schedule.until, not both.",
                field="schedule.until",
            )
        raw += ";UNTIL=" + _naive_local(schedule.until, tz).strftime("%Y%m%dT%H%M%S")
    if schedule.count is not None:
        if "UNTIL=" in raw.upper() or "COUNT=" in upper:
            raise ValidationFailed("Give one of COUNT and UNTIL.", field="schedule.count")
        raw += f";COUNT={schedule.count}"
    return raw


def _started_near(rule: rrule, near: datetime) -> rrule:
    """The same rule started on its own grid at or before `near`, when that is the same rule.

    An hourly, daily or weekly rule without COUNT yields, from any DTSTART moved forward by
    whole INTERVALs, exactly the occurrences of the original at or after the new DTSTART: the
    parts taken from DTSTART (minute, hour, weekday) and the INTERVAL's phase are unchanged.
    (dateutil keeps the parsed rule in these attributes; `replace` is its own copy method.)
    """
    step = _STEPS.get(rule._freq)
    if step is None or rule._count is not None:
        return rule
    period = step * rule._interval
    periods = (near - rule._dtstart) // period
    if periods <= 0:
        return rule
    return rule.replace(dtstart=rule._dtstart + periods * period)


def within_budget(walk: Callable[[], T], *, budget: int = WALK_BUDGET) -> T:
    """Runs `walk`, stopped with RuleTooCostly once it has made `budget` Python calls.

    The calls are counted by a trace function of this thread only; it sees each call (not each
    line), so the walk runs at about half its usual speed.
    """
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > budget:
            raise RuleTooCostly(
                "schedule.rrule matches too rarely to be planned (no occurrence within reach).",
                field="schedule.rrule",
            )

    previous = sys.gettrace()
    sys.settrace(count)
    try:
        return walk()
    finally:
        sys.settrace(previous)


def occurrences(
    schedule: ScheduleIn | dict[str, Any],
    tz: ZoneInfo,
    *,
    after: datetime,
    until: datetime | None = None,
    at_least: int = 0,
    limit: int = MAX_MATERIALISED,
) -> list[datetime]:
    """UTC instants of the schedule strictly after `after`: all up to `until`, and at least
    `at_least` even beyond it, at most `limit`. Raises RuleTooCostly past WALK_BUDGET."""
    # Start the walk a day early on the local clock: the UTC offset may differ by hours.
    local_after = after.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    rules = build_rule(schedule, tz, near=local_after)

    def walk() -> list[datetime]:
        out: list[datetime] = []
        for local in rules.xafter(local_after, count=None, inc=False):
            instant = to_utc(local, tz)
            if instant <= after:
                continue
            if len(out) >= limit or (
                until is not None and instant > until and len(out) >= at_least
            ):
                break
            out.append(instant)
        return out

    return within_budget(walk)


async def expand(
    schedule: ScheduleIn | dict[str, Any],
    tz: ZoneInfo,
    *,
    after: datetime,
    until: datetime | None = None,
    at_least: int = 0,
    limit: int = MAX_MATERIALISED,
) -> list[datetime]:
    """`occurrences` in a worker thread: the event loop goes on meanwhile."""
    return await asyncio.to_thread(
        lambda: occurrences(schedule, tz, after=after, until=until, at_least=at_least, limit=limit)
    )


def check_start(schedule: ScheduleIn, tz: ZoneInfo, *, now: datetime) -> None:
    """Refuses a recurring schedule given now whose first occurrence is long past."""
    assert schedule.at is not None
    start = to_utc(_naive_local(schedule.at, tz), tz)
    if start < now - MAX_START_AGE:
        raise ValidationFailed(
            f"A recurring schedule starts at most {MAX_START_AGE.days} days in the past "
            f"(at was {start.isoformat()}).",
            field="schedule.at",
        )


async def first_occurrence(
    schedule: ScheduleIn, tz: ZoneInfo, *, now: datetime, fresh: bool = True
) -> datetime:
    """The first occurrence after `now`; `fresh` when the schedule is given in this request
    (its start is then checked as well)."""
    if fresh:
        check_start(schedule, tz, now=now)
    found = await expand(schedule, tz, after=now, at_least=1, limit=1)
    if not found:
        raise ValidationFailed(
            "This recurrence has no occurrence in the future (check at, UNTIL, COUNT and exdates).",
            field="schedule.rrule",
        )
    return found[0]


def is_recurring(schedule: dict[str, Any] | None) -> bool:
    return bool(schedule and schedule.get("rrule"))


async def extend(
    session: AsyncSession,
    *,
    template: Target,
    schedule: dict[str, Any],
    now: datetime,
    horizon: timedelta,
    status: str = "scheduled",
) -> list[Target]:
    """Adds the occurrences of `template`'s post on its channel that are due within `horizon`
    and not yet rows (always at least one future occurrence while the rule has any)."""
    assert template.timezone is not None
    tz = ZoneInfo(template.timezone)
    await session.flush()
    last = await session.scalar(
        select(func.max(Target.due_at)).where(
            Target.post_id == template.post_id, Target.channel_id == template.channel_id
        )
    )
    upcoming = await session.scalar(
        select(func.count()).where(
            Target.post_id == template.post_id,
            Target.channel_id == template.channel_id,
            Target.status == status,
            Target.due_at > now,
        )
    )
    after = max(last or now, now)
    try:
        instants = await expand(
            schedule,
            tz,
            after=after,
            until=now + horizon,
            at_least=0 if upcoming else 1,
        )
    except RuleTooCostly:
        # Planned once, so it matched then; the series ends here rather than stall the loop.
        log.warning("post %s: its rule no longer expands within budget", template.post_id)
        return []
    return add_occurrences(session, template=template, instants=instants, status=status)


def add_occurrences(
    session: AsyncSession, *, template: Target, instants: Sequence[datetime], status: str
) -> list[Target]:
    added = [
        Target(
            id=uuid.uuid4(),
            post_id=template.post_id,
            workspace_id=template.workspace_id,
            channel_id=template.channel_id,
            network=template.network,
            position=template.position,
            text=template.text,
            media=template.media,
            options=template.options,
            status=status,
            due_at=instant,
            timezone=template.timezone,
            updated_at=datetime.now(UTC),
        )
        for instant in instants
    ]
    session.add_all(added)
    return added
