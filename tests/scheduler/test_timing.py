"""The DST rule: a skipped time moves forward by the gap, a repeated time is its first one."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.scheduler.timing import to_utc, zone
from shared.errors import ValidationFailed

CASES = [
    # zone, local wall-clock time, expected UTC, why
    (
        "America/New_York",
        datetime(2030, 3, 10, 2, 30),
        datetime(2030, 3, 10, 7, 30),
        "spring forward: 02:30 does not exist, becomes 03:30 EDT",
    ),
    (
        "America/New_York",
        datetime(2030, 11, 3, 1, 30),
        datetime(2030, 11, 3, 5, 30),
        "fall back: 01:30 happens twice, the first (EDT) is meant",
    ),
    ("America/New_York", datetime(2030, 7, 1, 9, 0), datetime(2030, 7, 1, 13, 0), "summer"),
    (
        "Europe/London",
        datetime(2030, 3, 31, 1, 30),
        datetime(2030, 3, 31, 1, 30),
        "spring forward: 01:30 does not exist, becomes 02:30 BST",
    ),
    (
        "Europe/London",
        datetime(2030, 10, 27, 1, 30),
        datetime(2030, 10, 27, 0, 30),
        "fall back: first 01:30 is BST",
    ),
    (
        "Asia/Jerusalem",
        datetime(2030, 3, 29, 2, 30),
        datetime(2030, 3, 29, 0, 30),
        "spring forward (Friday before last Sunday): 02:30 becomes 03:30 IDT",
    ),
    (
        "Asia/Jerusalem",
        datetime(2030, 10, 27, 1, 30),
        datetime(2030, 10, 26, 22, 30),
        "fall back: first 01:30 is IDT",
    ),
    (
        "Australia/Sydney",
        datetime(2030, 10, 6, 2, 30),
        datetime(2030, 10, 5, 16, 30),
        "southern spring forward in October: 02:30 becomes 03:30 AEDT",
    ),
    (
        "Australia/Sydney",
        datetime(2030, 4, 7, 2, 30),
        datetime(2030, 4, 6, 15, 30),
        "southern fall back in April: first 02:30 is AEDT",
    ),
    ("Asia/Tokyo", datetime(2030, 3, 10, 2, 30), datetime(2030, 3, 9, 17, 30), "no DST"),
    (
        "Asia/Kolkata",
        datetime(2030, 11, 3, 1, 30),
        datetime(2030, 11, 2, 20, 0),
        "no DST, half-hour offset",
    ),
]


@pytest.mark.parametrize(("tz", "local", "utc", "why"), CASES, ids=[c[3] for c in CASES])
def test_wall_clock_to_utc(tz, local, utc, why):
    assert to_utc(local, ZoneInfo(tz)) == utc.replace(tzinfo=UTC), why


def test_a_skipped_time_lands_gap_length_later_on_the_local_clock():
    tz = ZoneInfo("America/New_York")
    instant = to_utc(datetime(2030, 3, 10, 2, 30), tz)
    assert instant.astimezone(tz).replace(tzinfo=None) == datetime(2030, 3, 10, 3, 30)


def test_an_offset_in_the_input_names_an_instant():
    at = datetime.fromisoformat("2030-03-10T02:30:00+01:00")
    assert to_utc(at, ZoneInfo("America/New_York")) == datetime(2030, 3, 10, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", " UTC", "../etc/passwd", "EST5EDT/x"])
def test_unknown_zones_are_refused_with_the_field(name):
    with pytest.raises(ValidationFailed) as caught:
        zone(name, field="schedule.timezone")
    assert caught.value.field == "schedule.timezone"
