"""Crisis detection: a comment storm through the real X receiver raises an alert, then calms.

The inbox runs on a clock the test moves, and every tweet carries its own timestamp, so six
hours of baseline and a ten-minute storm are replayed in seconds without sleeping.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from services.inbox.crisis import Counts, Thresholds, assess
from tests.conftest import identity
from tests.inbox.conftest import Inbox, ManualClock, x_sign

ACCOUNT = "1500000000000000001"
POST = "1500000000000000100"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
THRESHOLDS = {
    "window_minutes": 15,
    "baseline_hours": 6,
    "min_messages": 10,
    "volume_factor": 3,
    "negative_share": 0.5,
    "negative_share_rise": 0.2,
    "calm_minutes": 30,
}


def signed_tweet(n: int, text: str, at: datetime) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(
        {
            "for_user_id": ACCOUNT,
            "tweet_create_events": [
                {
                    "id_str": str(1_800_000_000_000_000_000 + n),
                    "text": text,
                    "timestamp_ms": str(int(at.timestamp() * 1000)),
                    "created_at": at.strftime("%a %b %d %H:%M:%S +0000 %Y"),
                    "user": {
                        "id_str": str(1_700_000_000_000_000_000 + n),
                        "screen_name": f"p{n}",
                        "name": f"Person {n}",
                    },
                    "in_reply_to_status_id_str": POST,
                    "in_reply_to_user_id_str": ACCOUNT,
                }
            ],
        }
    )
    return body, x_sign(body)


async def deliver(inbox: Inbox, n: int, text: str, at: datetime) -> None:
    body, headers = signed_tweet(n, text, at)
    r = await inbox.client.post("/hooks/x", content=body, headers=headers)
    assert r.status_code == 200, r.text


async def alerts(inbox: Inbox, **params: Any) -> list[dict[str, Any]]:
    r = await inbox.client.get(
        "/v1/alerts", params=params, headers=identity(inbox.workspace_id, "analyst")
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def messages(inbox: Inbox) -> int:
    rows = await inbox.fetch("SELECT count(*) AS n FROM inbox.messages")
    return int(rows[0]["n"])


async def test_comment_storm_raises_a_crisis_that_resolves_when_it_calms(start_inbox) -> None:
    clock = ManualClock(T0)
    async with start_inbox(
        clock=clock, crisis_tick_seconds=0.1, crisis_min_interval_seconds=0.05
    ) as inbox:
        seen = await inbox.spy()
        owner = identity(inbox.workspace_id, "owner")
        r = await inbox.client.put("/v1/alerts/settings", json=THRESHOLDS, headers=owner)
        assert r.status_code == 200, r.text
        assert r.json()["customised"] is True and r.json()["window_minutes"] == 15
        r = await inbox.client.put(
            "/v1/alerts/settings", json=THRESHOLDS, headers=identity(inbox.workspace_id, "editor")
        )
        assert r.status_code == 403

        channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))

        # An ordinary six hours: a dozen comments, mostly friendly, a couple of complaints.
        for n in range(12):
            at = T0 - timedelta(minutes=20 + n * 28)
            text = (
                "@brand the delivery was late and bad"
                if n in (3, 8)
                else f"@brand love the new colours, great work {n}"
            )
            await deliver(inbox, n, text, at)
        await inbox.wait_for(lambda: _equals(messages(inbox), 12))

        # A quiet window is no crisis, whatever the baseline holds.
        await _evaluated(inbox)
        assert await alerts(inbox) == []

        # The storm: 25 angry comments in the last ten minutes.
        storm = []
        for n in range(100, 125):
            at = T0 - timedelta(minutes=10) + timedelta(seconds=20 * (n - 100))
            await deliver(
                inbox, n, f"@brand this is terrible, worst service ever, I hate it {n}", at
            )
            storm.append(str(1_800_000_000_000_000_000 + n))
        await inbox.wait_for(lambda: _equals(messages(inbox), 37))
        raised = await inbox.wait_for(
            lambda: _at_least(alerts(inbox, status="open"), 2), timeout=20
        )

        by_scope = {a["scope"]: a for a in raised}
        assert set(by_scope) == {"workspace", str(channel_id)}
        alert = by_scope[str(channel_id)]
        assert alert["channel_id"] == str(channel_id)
        assert alert["detected_at"] == T0.isoformat().replace("+00:00", "Z")
        evidence = alert["evidence"]
        # Raised as soon as the threshold was crossed, possibly before the whole storm was in.
        assert THRESHOLDS["min_messages"] <= evidence["window_count"] <= 25
        assert evidence["negative_count"] == evidence["window_count"]
        assert evidence["negative_share"] == 1.0
        assert evidence["baseline_count"] == 12
        assert evidence["baseline_negative_count"] == 2
        assert evidence["baseline_per_window"] == round(12 * 15 / 360, 4)
        assert evidence["window_minutes"] == 15 and evidence["thresholds"]["min_messages"] == 10
        samples = evidence["sample_message_ids"]
        assert 0 < len(samples) <= 10
        sampled = await inbox.fetch(
            "SELECT external_id FROM inbox.messages WHERE id = ANY($1::uuid[])",
            [uuid.UUID(s) for s in samples],
        )
        assert {r["external_id"] for r in sampled} <= set(storm)
        assert len(sampled) == len(samples)

        detected = await inbox.wait_for(
            lambda: (
                [e for e in seen if e.type == "crisis.detected"]
                if len([e for e in seen if e.type == "crisis.detected"]) == 2
                else None
            )
        )
        assert {e.data["alert_id"] for e in detected} == {a["id"] for a in raised}
        assert all(e.workspace_id == inbox.workspace_id for e in detected)
        # One open alert per scope: further evaluations of the same storm add none, and the
        # alert's peak grows to the whole storm.
        clock.advance(seconds=30)
        await _evaluated(inbox)
        assert len(await alerts(inbox)) == 2
        [current] = await alerts(inbox, channel_id=str(channel_id))
        assert current["peak"]["window_count"] == 25
        assert current["last_seen_at"] == clock.now.isoformat().replace("+00:00", "Z")

        # Twenty minutes on the window is empty, but the calm period (30 min) has not passed.
        clock.advance(minutes=20)
        await _evaluated(inbox)
        assert {a["status"] for a in await alerts(inbox)} == {"open"}

        # Three quarters of an hour after the storm: resolved, with the event to say so.
        calm = clock.advance(minutes=25)
        resolved = await inbox.wait_for(lambda: _all_resolved(alerts(inbox)), timeout=20)
        assert {a["resolved_at"] for a in resolved} == {calm.isoformat().replace("+00:00", "Z")}
        r = await inbox.client.get(
            f"/v1/alerts/{alert['id']}", headers=identity(inbox.workspace_id, "analyst")
        )
        assert r.status_code == 200 and r.json()["status"] == "resolved"
        assert r.json()["peak"]["negative_count"] == 25
        assert r.json()["latest"]["window_count"] == 0
        ended = await inbox.wait_for(
            lambda: (
                [e for e in seen if e.type == "crisis.resolved"]
                if len([e for e in seen if e.type == "crisis.resolved"]) == 2
                else None
            )
        )
        assert {e.data["alert_id"] for e in ended} == {a["id"] for a in raised}

        # Another workspace sees none of it.
        r = await inbox.client.get("/v1/alerts", headers=identity(uuid.uuid4(), "owner"))
        assert r.json()["items"] == []


async def test_thresholds_default_and_validate(inbox: Inbox) -> None:
    headers = identity(inbox.workspace_id, "owner")
    r = await inbox.client.get("/v1/alerts/settings", headers=headers)
    assert r.status_code == 200
    assert r.json()["customised"] is False
    assert r.json()["window_minutes"] == Thresholds().window_minutes
    r = await inbox.client.put("/v1/alerts/settings", json={"negative_share": 1.5}, headers=headers)
    assert r.status_code == 422
    r = await inbox.client.put("/v1/alerts/settings", json={"window_minutes": 5}, headers=headers)
    assert r.status_code == 200
    assert r.json()["window_minutes"] == 5
    assert r.json()["min_messages"] == Thresholds().min_messages
    r = await inbox.client.get(f"/v1/alerts/{uuid.uuid4()}", headers=headers)
    assert r.status_code == 404


def test_assess_needs_volume_and_negativity_above_the_baseline() -> None:
    t = Thresholds(
        window_minutes=15,
        baseline_hours=6,
        min_messages=10,
        volume_factor=3,
        negative_share=0.5,
        negative_share_rise=0.2,
    )
    assert assess(Counts(window=25, negative=25, baseline=12, baseline_negative=2), t)[0]
    # A loud but happy window (a launch going well) is no crisis.
    assert not assess(Counts(window=25, negative=3, baseline=12, baseline_negative=2), t)[0]
    # Too few messages, however negative.
    assert not assess(Counts(window=9, negative=9, baseline=0, baseline_negative=0), t)[0]
    # A busy channel: 25 in the window is its normal rate (600 per 6 h = 25 per 15 min).
    assert not assess(Counts(window=25, negative=25, baseline=600, baseline_negative=500), t)[0]
    # As negative as it always is: the share did not rise enough above the baseline's.
    quiet_but_grumpy = Counts(window=20, negative=14, baseline=24, baseline_negative=14)
    assert not assess(quiet_but_grumpy, t)[0]
    assert assess(quiet_but_grumpy, Thresholds(**{**t.__dict__, "negative_share_rise": 0.1}))[0]
    # Switched off.
    assert not assess(Counts(window=25, negative=25), Thresholds(enabled=False))[0]


async def _evaluated(inbox: Inbox) -> None:
    """Waits until the crisis loop has run a whole pass with the clock as it is now."""
    counter = inbox.app.state.counters.crisis_evaluations.labels("done")
    start = counter._value.get()
    # The pass under way when the clock moved may have read the old time; the next cannot.
    await inbox.wait_for(lambda: counter._value.get() >= start + 2, timeout=20)


async def _equals(coro: Any, n: int) -> bool:
    return await coro == n


async def _at_least(coro: Any, n: int) -> Any:
    got = await coro
    return got if len(got) >= n else None


async def _all_resolved(coro: Any) -> Any:
    got = await coro
    return got if got and all(a["status"] == "resolved" for a in got) else None
