"""Wall-clock times in IANA zones, and the rule for the hours DST takes away or repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import ValidationFailed


def zone(name: str, *, field: str) -> ZoneInfo:
    """The IANA zone called `name`, or a 422 naming `field`."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    # OSError: a name longer than a file name may be is looked up as a file all the same.
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise ValidationFailed(
            f"'{name}' is not an IANA time zone (for example 'Asia/Jerusalem').", field=field
        ) from exc


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock time `local` in `tz`.

    The rule for DST transitions, so a post is never silently an hour off:

    - A time that does not exist (the hour skipped when clocks spring forward, e.g. 02:30 on
      the spring-forward night in America/New_York) is shifted forward by the length of the
      gap: 02:30 becomes 03:30 local. The post goes out at the same distance after the
      transition as the planner's clock suggested, never before the time they picked.
    - A time that happens twice (the hour repeated when clocks fall back, e.g. 01:30 on the
      fall-back night in America/New_York) means its first occurrence (fold=0), the one in
      summer time, so it goes out as early as the planner could have meant.

    A `local` that already carries an offset names an instant and is simply converted.
    """
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    # zoneinfo already applies both rules with fold=0: a nonexistent time takes the offset in
    # force before the gap (so it lands gap-length later), an ambiguous one the first offset.
    # Spelled out here so the rule stays true whatever the library does in the future.
    first = local.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        before = local.replace(tzinfo=tz, fold=0).utcoffset() or timedelta(0)
        after = local.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
        # In a gap the offset before the transition is the smaller one (clocks go forward):
        # reading the time with it lands exactly gap-length later on the new clock.
        instant = (local - min(before, after)).replace(tzinfo=UTC)
    return instant


def local_time(instant: datetime, tz_name: str) -> datetime:
    """`instant` as wall-clock time in `tz_name` (with its offset)."""
    return instant.astimezone(ZoneInfo(tz_name))
