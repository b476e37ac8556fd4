"""A storm of negative comments in Hebrew, and separately in Icelandic, raises an alert that
says why within a minute, and the workspace that asked for it gets its queue frozen by the
scheduler (over the bus): a post scheduled meanwhile stays unpublished until resume."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.inbox.crisis import Counts, Thresholds, assess
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.inbox.conftest import ManualClock
from tests.inbox.test_crisis import THRESHOLDS, alerts, deliver, messages
from tests.scheduler.support import listening, running_scheduler, wait_consuming

ACCOUNT = "1500000000000000001"

CALM = [
    "@brand thanks for the quick delivery, love it",
    "@brand great photos from the event",
    "@brand when does the new season start?",
    "@brand the staff at the store were really kind",
]

STORMS = {
    "he": [
        "השירות שלכם פשוט מחפיר, שבועיים אני מחכה להחזר",
        "אתם גנבים! גביתם ממני פעמיים",
        "הכי גרוע שיש, אף אחד לא עונה בטלפון",
        "נמאס לי מכם, המוצר הגיע שבור",
        "זה מבאס ממש, ההזמנה שלי נתקעה שוב",
        "שירות לקוחות גרוע, מתייחסים ללקוחות כמו לזבל",
        "בושה וחרפה, לא אזמין שוב לעולם",
        "המוצר שלכם מסוכן, הסוללה התנפחה",
        "אני כועסת מאוד, ביטלו לי את ההזמנה בלי הסבר",
        "אפליקציה מחורבנת, קורסת כל שנייה",
        "איזה זלזול, חיכיתי שעה על הקו",
        "רמאים, ההחזר לא הגיע עד היום",
        "מאוכזב מאוד מהיחס, לא ממליץ",
        "השירות נוראי והמוצר פגום",
    ],
    "is": [
        "Þjónustan hjá ykkur er algjörlega ömurleg",
        "Ég er mjög reiður, pöntunin kom aldrei",
        "Þetta er hneyksli, þið rukkuðuð mig tvisvar",
        "Versta þjónusta sem ég hef fengið",
        "Varan var gölluð og enginn svarar tölvupósti",
        "Glatað app, það hrynur í hvert skipti",
        "Ég bíð enn eftir endurgreiðslu, óásættanlegt",
        "Svikarar! Aldrei aftur hjá ykkur",
        "Hræðileg upplifun, starfsfólkið var dónalegt",
        "Lélegt og dýrt, ég er mjög ósátt",
        "Ömurlegt að fá brotna vöru í annað sinn",
        "Skammarlegt hvernig þið komið fram við fólk",
        "Þetta er drasl, virkar ekki neitt",
        "Ég er vonsvikin, pakkinn týndist aftur",
    ],
}


def test_unknown_sentiment_does_not_make_a_crisis_and_weeks_set_the_baseline() -> None:
    t = Thresholds(**THRESHOLDS)
    # Thirty messages nobody could score (a language nothing covers): loud, but no crisis.
    assert not assess(Counts(window=30, negative=0, scored=0, baseline=12), t)[0]
    # Negative share is taken over the scored messages only.
    ok, figures = assess(Counts(window=30, negative=12, scored=15, baseline=12), t)
    assert ok and figures["negative_share"] == 0.8
    # Thirty in fifteen minutes is a spike against a quiet recent period …
    spike = Counts(window=30, negative=25, baseline=12, baseline_negative=2)
    assert assess(spike, t)[0]
    # … but not at an hour of the week that always sees about as many (four weeks of it).
    usual = Counts(window=30, negative=25, baseline=12, baseline_negative=2, weekly=4 * 28, weeks=4)
    crisis, figures = assess(usual, t)
    assert not crisis and figures["baseline_per_window"] == round((0.5 + 112) / 5, 4)


@pytest.mark.parametrize("language", ["he", "is"])
async def test_a_storm_raises_an_alert_and_freezes_the_queue(
    language: str, start_inbox: Any, make_settings: Any
) -> None:
    clock = ManualClock(datetime.now(UTC))
    scheduler_settings = make_settings(SchedulerSettings)
    async with (
        start_inbox(clock=clock, crisis_tick_seconds=0.2, crisis_min_interval_seconds=0.1) as inbox,
        listening(
            scheduler_settings.exchange_name, "alert.raised", "queue.frozen", "post.due"
        ) as heard,
        running_scheduler(scheduler_settings) as scheduler,
    ):
        await wait_consuming(scheduler, "crisis", "channels")
        owner = identity(inbox.workspace_id, "owner")
        r = await inbox.client.put(
            "/v1/alerts/settings", json={**THRESHOLDS, "freeze_queue": True}, headers=owner
        )
        assert r.status_code == 200 and r.json()["freeze_queue"] is True
        channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))

        now = clock.now
        for n, text in enumerate(CALM * 2):
            await deliver(inbox, n, text, now - timedelta(minutes=40 + 35 * n))
        storm = STORMS[language]
        for n, text in enumerate(storm):
            at = now - timedelta(minutes=12) + timedelta(seconds=40 * n)
            await deliver(inbox, 100 + n, text, at)
        delivered = time.monotonic()
        await inbox.wait_for(lambda: _equals(messages(inbox), len(CALM) * 2 + len(storm)))

        raised = await inbox.wait_for(
            lambda: _scope(alerts(inbox, status="open"), "workspace"), timeout=60
        )
        assert time.monotonic() - delivered < 60
        evidence = raised["evidence"]
        assert evidence["crisis_languages"] == [language]
        # Raised as soon as the threshold was crossed, possibly before the whole storm was in.
        in_window = evidence["languages"][language]["window_count"]
        assert THRESHOLDS["min_messages"] <= in_window <= len(storm)
        assert evidence["languages"][language]["negative_share"] >= 0.5
        assert f"crisis in {language}" in evidence["reason"]
        assert raised["reason"] == evidence["reason"] and raised["languages"] == [language]
        assert evidence["samples"] and {s["language"] for s in evidence["samples"]} == {language}
        assert evidence["top_phrases"], evidence
        assert evidence["hour_of_week"] == now.strftime("%a %H:%M UTC")

        def workspace_frozen(h: Any) -> bool:
            return any(e.data["channel_id"] is None for e in h.of("queue.frozen"))

        await heard.wait_for(
            lambda h: bool(h.of("alert.raised")) and workspace_frozen(h), within=30
        )
        said = next(e for e in heard.of("alert.raised") if e.data["scope"] == "workspace")
        assert said.data["languages"] == [language] and said.data["freeze_requested"] is True
        assert said.data["reason"] == evidence["reason"]
        # The workspace's alert froze the workspace (the channel's alert, its channel).
        frozen = next(e for e in heard.of("queue.frozen") if e.data["channel_id"] is None)
        assert frozen.data["frozen_by"] == f"alert:{raised['id']}"
        assert frozen.workspace_id == inbox.workspace_id

        # A post for right now stays unpublished while the queue is frozen …
        scheduler_channel = await scheduler.add_channel(
            workspace_id=inbox.workspace_id, channel_id=uuid.uuid4()
        )
        editor = identity(inbox.workspace_id, "editor")
        r = await scheduler.client.post(
            "/v1/posts",
            headers=editor,
            json={
                "text": "Our spring collection is here",
                "schedule": {"now": True},
                "targets": [{"channel_id": str(scheduler_channel)}],
            },
        )
        assert r.status_code == 201, r.text
        assert await scheduler.app.state.dispatcher.drain() == 0
        state = (await scheduler.client.get("/v1/queue/state", headers=editor)).json()
        assert state["frozen"] is True and state["held"] == 1
        assert heard.of("post.due") == []
        # … and goes out on resume, which lifts every freeze of the workspace.
        r = await scheduler.client.post("/v1/queue/resume", json={}, headers=editor)
        assert r.status_code == 200 and r.json()["due"] == 1
        assert {f["frozen_by"] for f in r.json()["resumed"]} == {
            e.data["frozen_by"] for e in heard.of("queue.frozen")
        }
        await heard.wait_for(lambda h: len(h.of("post.due")) == 1)
        assert channel_id  # the inbox's channel, where the storm came from


async def _equals(coro: Any, n: int) -> bool:
    return await coro == n


async def _scope(coro: Any, scope: str) -> Any:
    return next((a for a in await coro if a["scope"] == scope), None)


async def test_a_spike_usual_for_the_hour_of_the_week_is_no_crisis(start_inbox: Any) -> None:
    sunday_night = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
    clock = ManualClock(sunday_night)
    async with start_inbox(
        clock=clock, crisis_tick_seconds=0.2, crisis_min_interval_seconds=0.1
    ) as inbox:
        owner = identity(inbox.workspace_id, "owner")
        r = await inbox.client.put("/v1/alerts/settings", json=THRESHOLDS, headers=owner)
        assert r.status_code == 200 and r.json()["baseline_weeks"] == 4
        await inbox.connect_channel(network="x", external_id=ACCOUNT)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))

        # Every Sunday night the live show brings a rush of comments, grumpy ones included.
        n = 0
        await deliver(inbox, n, "@brand first!", sunday_night - timedelta(weeks=4, hours=1))
        for week in range(1, 5):
            for i in range(30):
                n += 1
                at = sunday_night - timedelta(weeks=week, minutes=10) + timedelta(seconds=20 * i)
                text = "@brand the show tonight is awful" if i % 2 else f"@brand show time {i}"
                await deliver(inbox, n, text, at)

        async def storm(end: datetime) -> None:
            nonlocal n
            for i in range(30):
                n += 1
                at = end - timedelta(minutes=10) + timedelta(seconds=20 * i)
                await deliver(inbox, n, f"@brand this is terrible, worst stream ever {i}", at)

        await storm(sunday_night)
        await inbox.wait_for(lambda: _equals(messages(inbox), n + 1), timeout=30)
        await _evaluated(inbox)
        # 30 in the window against a usual (120 + 0) / 5 = 24 for Sunday 21:00: no crisis.
        assert await alerts(inbox) == []

        # The same storm on a Monday morning, an hour that is always quiet: a crisis.
        monday_morning = clock.advance(hours=12)
        await storm(monday_morning)
        raised = await inbox.wait_for(lambda: _scope(alerts(inbox), "workspace"), timeout=30)
        evidence = raised["evidence"]
        assert evidence["weeks_of_history"] == 4 and evidence["weekly_count"] == 0
        assert evidence["hour_of_week"] == "Mon 09:00 UTC"
        assert "100% negative" in evidence["reason"]


async def _evaluated(inbox: Any) -> None:
    """Two whole passes of the crisis loop at the clock as it is now."""
    counter = inbox.app.state.counters.crisis_evaluations.labels("done")
    start = counter._value.get()
    await inbox.wait_for(lambda: counter._value.get() >= start + 2, timeout=20)
