import uuid
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from sqlalchemy import select

from services.scheduler.models import Target
from services.scheduler.recurrence import occurrences
from services.scheduler.schemas import ScheduleIn
from services.scheduler.settings import SchedulerSettings
from services.scheduler.timing import to_utc
from tests.conftest import identity
from tests.scheduler.support import listening, running_scheduler

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def test_weekly_rule_keeps_the_local_time_across_both_dst_changes_in_london():
    schedule = ScheduleIn(rrule="FREQ=WEEKLY;BYDAY=MO", at=datetime(2030, 3, 18, 9, 0))
    got = occurrences(schedule, LONDON, after=datetime(2030, 3, 1, tzinfo=UTC), until=None, limit=4)
    # London springs forward on Sunday 2030-03-31: 09:00 GMT, then 09:00 BST.
    assert [g.isoformat() for g in got] == [
        "2030-03-18T09:00:00+00:00",
        "2030-03-25T09:00:00+00:00",
        "2030-04-01T08:00:00+00:00",
        "2030-04-08T08:00:00+00:00",
    ]
    autumn = ScheduleIn(rrule="FREQ=WEEKLY;BYDAY=MO", at=datetime(2030, 10, 21, 9, 0))
    got = occurrences(autumn, LONDON, after=datetime(2030, 10, 1, tzinfo=UTC), limit=2)
    # Back to GMT on Sunday 2030-10-27.
    assert [g.hour for g in got] == [8, 9]
    assert {g.astimezone(LONDON).strftime("%H:%M") for g in got} == {"09:00"}


def test_southern_hemisphere_both_changes_and_zones_without_dst():
    sydney = ZoneInfo("Australia/Sydney")
    april = ScheduleIn(rrule="FREQ=DAILY;COUNT=3", at=datetime(2030, 4, 6, 2, 30))
    got = occurrences(april, sydney, after=datetime(2030, 4, 1, tzinfo=UTC))
    # Sydney falls back on 2030-04-07: 02:30 happens twice, the first (AEDT, +11) is meant.
    assert [g.isoformat() for g in got] == [
        "2030-04-05T15:30:00+00:00",
        "2030-04-06T15:30:00+00:00",
        "2030-04-07T16:30:00+00:00",
    ]
    october = ScheduleIn(rrule="FREQ=DAILY;COUNT=3", at=datetime(2030, 10, 5, 2, 30))
    got = occurrences(october, sydney, after=datetime(2030, 10, 1, tzinfo=UTC))
    # …and springs forward on 2030-10-06: 02:30 does not exist and becomes 03:30 AEDT.
    assert [g.astimezone(sydney).strftime("%m-%d %H:%M %Z") for g in got] == [
        "10-05 02:30 AEST",
        "10-06 03:30 AEDT",
        "10-07 02:30 AEDT",
    ]
    # Without DST the UTC time never moves, whatever the season.
    for name, utc in (("Asia/Tokyo", "00:00"), ("Asia/Kolkata", "03:30")):
        weekly = ScheduleIn(rrule="FREQ=WEEKLY;BYDAY=MO", at=datetime(2030, 3, 4, 9, 0))
        got = occurrences(weekly, ZoneInfo(name), after=datetime(2030, 3, 1, tzinfo=UTC), limit=40)
        assert {g.strftime("%H:%M") for g in got} == {utc}, name
        assert {g.astimezone(ZoneInfo(name)).strftime("%H:%M") for g in got} == {"09:00"}


def test_daily_rule_in_new_york_with_exdates_count_and_the_spring_gap():
    schedule = ScheduleIn(
        rrule="FREQ=DAILY",
        at=datetime(2030, 3, 8, 2, 30),
        exdates=[datetime(2030, 3, 9, 2, 30)],
        count=4,
    )
    got = occurrences(schedule, NEW_YORK, after=datetime(2030, 3, 1, tzinfo=UTC))
    # COUNT counts before EXDATE removes (RFC 5545); 02:30 on 2030-03-10 does not exist on
    # the New York clock and moves to 03:30 EDT, per timing.to_utc's rule.
    assert [g.astimezone(NEW_YORK).isoformat() for g in got] == [
        "2030-03-08T02:30:00-05:00",
        "2030-03-10T03:30:00-04:00",
        "2030-03-11T02:30:00-04:00",
    ]
    utc_until = ScheduleIn(
        rrule="FREQ=WEEKLY;UNTIL=20301105T140000Z", at=datetime(2030, 10, 22, 9, 0)
    )
    got = occurrences(utc_until, NEW_YORK, after=datetime(2030, 10, 1, tzinfo=UTC))
    # NY falls back on 2030-11-03; 09:00 EST on 11-05 is 14:00Z, inside the UTC UNTIL.
    assert [g.isoformat() for g in got] == [
        "2030-10-22T13:00:00+00:00",
        "2030-10-29T13:00:00+00:00",
        "2030-11-05T14:00:00+00:00",
    ]


async def test_recurring_post_materialises_its_window_and_the_calendar_shows_it(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False, recurrence_horizon_days=2000)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        london = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        ny = await s.add_channel(workspace_id=workspace, timezone="America/New_York")
        body = {
            "text": "weekly tips",
            "targets": [{"channel_id": str(london)}, {"channel_id": str(ny)}],
            "schedule": {
                "rrule": "FREQ=WEEKLY;BYDAY=MO",
                "at": "2030-03-04T09:00:00",
                "exdates": ["2030-03-25T09:00:00"],
                "until": "2030-04-15T09:00:00",
            },
        }
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 201, r.text
        post = r.json()
        assert post["schedule"]["rrule"] == "FREQ=WEEKLY;BYDAY=MO"
        # Mondays 4, 11, 18, (25 excluded), 1 Apr, 8, 15 → 6 per channel.
        assert len(post["targets"]) == 12
        rng = {"from": "2030-03-01T00:00:00Z", "to": "2030-05-01T00:00:00Z"}
        items = (
            await s.client.get(
                "/v1/calendar",
                params={**rng, "channel_id": str(london)},
                headers=identity(workspace),
            )
        ).json()["items"]
        assert [i["local_due_at"][:16] for i in items] == [
            f"2030-{d}T09:00" for d in ("03-04", "03-11", "03-18", "04-01", "04-08", "04-15")
        ]
        assert [i["due_at"][11:16] for i in items] == ["09:00"] * 3 + ["08:00"] * 3
        ny_items = (
            await s.client.get(
                "/v1/calendar", params={**rng, "channel_id": str(ny)}, headers=identity(workspace)
            )
        ).json()["items"]
        # NY springs forward on 10 March: 14:00Z, then 13:00Z.
        assert [i["due_at"][11:16] for i in ny_items] == ["14:00"] + ["13:00"] * 5
        assert {i["local_due_at"][11:16] for i in ny_items} == {"09:00"}

        # The series is edited in place (tests/scheduler/test_series_edit.py has the rest).
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"text": "x"},
            headers={**identity(workspace), "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        assert {t["id"] for t in r.json()["targets"]} == {t["id"] for t in post["targets"]}
        r = await s.client.delete(f"/v1/posts/{post['id']}", headers=identity(workspace))
        assert r.status_code == 200
        assert {t["status"] for t in r.json()["targets"]} == {"canceled"}


async def test_invalid_recurrences_are_refused_naming_the_field(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        a_month_ago = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT09:00:00")
        cases = [
            ({"rrule": "FREQ=SOMETIMES", "at": "2030-03-04T09:00:00"}, "schedule.rrule"),
            ({"rrule": "FREQ=WEEKLY;BYDAY=XX", "at": "2030-03-04T09:00:00"}, "schedule.rrule"),
            ({"rrule": "FREQ=MINUTELY", "at": "2030-03-04T09:00:00"}, "schedule.rrule"),
            # Both occurrences in the past: nothing left to plan.
            ({"rrule": "FREQ=DAILY;COUNT=2", "at": a_month_ago}, "schedule.rrule"),
            # A series may start at most a year back (its walk starts near now anyway).
            ({"rrule": "FREQ=DAILY", "at": "2020-03-04T09:00:00"}, "schedule.at"),
            # A rule that never matches is not walked to year 9999.
            (
                {"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "at": "2030-03-04T09:00:00"},
                "schedule.rrule",
            ),
            ({"rrule": "FREQ=DAILY"}, "schedule"),
            (
                {"rrule": "FREQ=DAILY", "at": "2030-03-04T09:00:00", "timezone": "Mars/Base"},
                "schedule.timezone",
            ),
        ]
        for schedule, field in cases:
            r = await s.client.post(
                "/v1/posts",
                json={"text": "t", "targets": [{"channel_id": str(channel)}], "schedule": schedule},
                headers=identity(workspace),
            )
            assert r.status_code == 422, (schedule, r.text)
            assert r.json()["field"] == field, (schedule, r.json())
        assert await s.count(Target) == 0


async def test_dispatching_an_occurrence_tops_up_the_series(make_settings):
    # A horizon of one day: only the next occurrence exists as a row until one is claimed.
    settings = make_settings(SchedulerSettings, recurrence_horizon_days=1)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace, timezone="America/New_York")
        start = (datetime.now(NEW_YORK) + timedelta(seconds=2)).replace(tzinfo=None, microsecond=0)
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "daily",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"rrule": "FREQ=DAILY;COUNT=5", "at": start.isoformat()},
            },
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        # Only the first occurrence is within the one-day horizon.
        assert len(r.json()["targets"]) == 1
        await heard.wait_for(lambda h: len(h.of("post.due")) == 1, within=10)
        async with s.runtime.sessions() as session:
            rows = (
                await session.execute(select(Target.status, Target.due_at).order_by(Target.due_at))
            ).all()
        # Claiming it added the next day's, in the same transaction.
        assert [row.status for row in rows] == ["publishing", "scheduled"]
        local = [row.due_at.astimezone(NEW_YORK).replace(tzinfo=None) for row in rows]
        assert local == [start, start + timedelta(days=1)]


def test_a_walk_started_near_now_finds_the_same_occurrences_as_one_from_the_start():
    # The expansion starts on the rule's grid close to `after`, not at `at` months ago; the
    # occurrences must be exactly those of the rule walked from its first one.
    tz = ZoneInfo("Europe/London")
    at = datetime(2026, 1, 5, 9, 30)  # a Monday, before the March DST change
    after = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    rules = [
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=HOURLY;INTERVAL=7;BYHOUR=9,10,11,12,13,14,15,16",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=DAILY;BYDAY=MO,WE,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU",
        "FREQ=WEEKLY;INTERVAL=3",
        "FREQ=DAILY;INTERVAL=2;BYMONTH=3,10",
    ]
    for rule in rules:
        schedule = ScheduleIn(rrule=rule, at=at, timezone=tz.key)
        found = occurrences(schedule, tz, after=after, at_least=30, limit=30)
        from_the_start = (to_utc(local, tz) for local in rrulestr(rule, dtstart=at))
        reference = list(islice((i for i in from_the_start if i > after), 30))
        assert len(reference) == 30 and found == reference, rule
