"""Reports a person reads: a month of activity → PDF, HTML and CSV in the background, checked
against the analytics API; languages, schedules, signed links, refusals."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pypdf import PdfReader
from sqlalchemy import func, select, update

from services.metrics.inbox import (
    record_crisis,
    record_crisis_resolved,
    record_message,
    record_reply,
)
from services.metrics.models import Click, Report, ReportSchedule
from services.metrics.report_jobs import file_url, next_run, previous_month
from shared.db import unit_of_work
from shared.events import ConversationReplied, CrisisDetected, CrisisResolved, MessageReceived
from tests.conftest import identity
from tests.metrics.support import connect_channel, feed, outbox_events, publish, quiet_app, sample

ZONE = "Asia/Jerusalem"
# November 2026 in Jerusalem (UTC+2 all month).
MONTH_START = datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
TEXTS = [
    "מבצע חורף! 20% הנחה על הכל #חורף",
    "Winter sale: everything 20% off #winter",
    "Vetrarútsala í dag, þú færð afslátt",
    "Behind the scenes at the warehouse",
]
NAMES = {
    "x": ("like_count", "impression_count"),
    "facebook": ("post_reactions_by_type_total", "post_impressions"),
}


async def _month_of_activity(runtime, client, workspace, *, days=30):
    """Two channels, a post a day alternating between them with its numbers, comments in
    three languages with answers, two crisis alerts (one calmed), and a campaign link clicked
    three times with one conversion."""
    x = await connect_channel(runtime, workspace=workspace, network="x", now=MONTH_START)
    fb = await connect_channel(runtime, workspace=workspace, network="facebook", now=MONTH_START)
    for day in range(days):
        at = MONTH_START + timedelta(days=day, hours=8)
        channel, network = (x, "x") if day % 2 == 0 else (fb, "facebook")
        post = await publish(
            runtime,
            workspace=workspace,
            channel_id=channel,
            network=network,
            published_at=at,
            campaign="winter" if day % 3 == 0 else None,
            text=TEXTS[day % 4],
        )
        likes, views = 20 * day + 5, 400 + day * 10
        for hours, share in ((2, 0.5), (10, 1.0)):
            when = at + timedelta(hours=hours)
            await feed(
                runtime,
                workspace=workspace,
                channel_id=channel,
                network=network,
                now=when,
                samples=[
                    sample(post, NAMES[network][0], round(likes * share), when),
                    sample(post, NAMES[network][1], round(views * share), when),
                ],
            )
    async with unit_of_work(runtime.sessions) as session:
        for i in range(12):
            conversation = uuid.uuid4()
            at = MONTH_START + timedelta(days=i * 2, hours=12)
            await record_message(
                session,
                workspace_id=workspace,
                message=MessageReceived(
                    message_id=uuid.uuid4(),
                    conversation_id=conversation,
                    channel_id=x,
                    network="x",
                    kind="comment",
                    sentiment=(0.6, -0.5, 0.0)[i % 3],
                    language=("he", "en", "is")[i % 3],
                    received_at=at,
                ),
            )
            if i % 2 == 0:
                await record_reply(
                    session,
                    workspace_id=workspace,
                    reply=ConversationReplied(
                        conversation_id=conversation,
                        first_response_seconds=1800.0 * (i + 1),
                        replied_at=at + timedelta(hours=1),
                    ),
                )
        alerts = [uuid.uuid4(), uuid.uuid4()]
        for k, alert in enumerate(alerts):
            await record_crisis(
                session,
                workspace_id=workspace,
                detected=CrisisDetected(
                    alert_id=alert, detected_at=MONTH_START + timedelta(days=10 + k)
                ),
            )
        await record_crisis_resolved(
            session,
            workspace_id=workspace,
            resolved=CrisisResolved(
                alert_id=alerts[0], resolved_at=MONTH_START + timedelta(days=11)
            ),
        )
    h = identity(workspace, timezone=ZONE)
    link = (
        await client.post(
            "/v1/links",
            headers=h,
            json={
                "url": "https://shop.example.com/winter",
                "utm": {"campaign": "winter", "source": "x"},
            },
        )
    ).json()
    for _ in range(3):
        follow = await client.get(f"/l/{link['code']}", headers={"user-agent": "Mozilla/5.0"})
        assert follow.status_code == 302
    await client.post(
        "/v1/conversions",
        headers=h,
        json={
            "link_code": link["code"],
            "name": "purchase",
            "value": 49.5,
            "occurred_at": (MONTH_START + timedelta(days=20)).isoformat(),
        },
    )
    async with unit_of_work(runtime.sessions) as session:
        # The clicks happened during the month being reported on.
        await session.execute(update(Click).values(clicked_at=MONTH_START + timedelta(days=19)))
    return x, fb


async def _generate(app, client, workspace, **body):
    h = identity(workspace, timezone=ZONE)
    payload = {"from": MONTH_START.isoformat(), "to": MONTH_END.isoformat(), **body}
    accepted = await client.post("/v1/reports", headers=h, json=payload)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "queued"
    report_id = accepted.json()["id"]
    assert await app.state.loops["reports"].run_once()
    report = (await client.get(f"/v1/reports/{report_id}", headers=h)).json()
    assert report["status"] == "ready", report
    return report


def _path(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_monthly_report_pdf_matches_the_api(make_settings):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        await _month_of_activity(runtime, client, workspace)
        h = identity(workspace, timezone=ZONE)
        rng = {"from": MONTH_START.isoformat(), "to": MONTH_END.isoformat()}
        summary = (await client.get("/v1/analytics/summary", headers=h, params=rng)).json()
        top = (
            await client.get("/v1/analytics/top-posts", headers=h, params={**rng, "limit": 5})
        ).json()["items"]
        rates = (
            await client.get(
                "/v1/analytics/conversions", headers=h, params={**rng, "group_by": "campaign"}
            )
        ).json()["items"]
        inbox = (await client.get("/v1/analytics/inbox", headers=h, params=rng)).json()
        assert summary["posts_published"] == 30 and summary["engagements"] == 8850

        report = await _generate(app, client, workspace, language="en")
        assert report["timezone"] == ZONE and report["figures"]["summary"]["engagements"] == {
            "current": summary["engagements"],
            "previous": 0.0,
        }
        pdf = await client.get(_path(report["download_url"]))  # no API key: the link is enough
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        reader = PdfReader(io.BytesIO(pdf.content))
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert len(reader.pages) >= 3
        # Engagement over time, best times of both channels, top posts, campaigns, inbox by
        # language, response times.
        assert sum(len(page.images) for page in reader.pages) == 7
        assert "Period: 1 Nov 2026 – 30 Nov 2026" in text
        assert f"Engagements {summary['engagements']:,.0f} 0" in text
        assert f"Views {summary['views']:,.0f} 0" in text
        assert f"Posts published {summary['posts_published']} 0" in text
        assert f"Engagement rate {summary['engagement_rate']:.2%}" in text
        best = top[0]
        assert TEXTS[1] in text and f"{best['networks'][0]} {best['value']:,.0f}" in text
        winter = next(r for r in rates if r["key"] == "winter")
        assert (winter["clicks"], winter["conversions"]) == (3, 1)
        assert f"winter {winter['clicks']} {winter['conversions']} 33.3% 49.50" in text
        assert f"Messages: {inbox['volume']}" in text and inbox["volume"] == 12
        p50 = inbox["first_response_p50_seconds"] / 3600
        assert f"First response, median: {p50:.1f} hours" in text
        assert "Crisis alerts: 2 (1 still open)" in text

        by_format = {f["format"]: f["url"] for f in report["files"]}
        page = await client.get(_path(by_format["html"]))
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="en" dir="ltr">' in page.text and page.text.count("<img") == 7
        sheet = (await client.get(_path(by_format["csv"]))).text.splitlines()
        assert f"summary,engagements,{summary['engagements']},0.0" in sheet
        as_csv = await client.get(
            f"/v1/reports/{report['id']}", headers={**h, "accept": "text/csv"}
        )
        assert as_csv.text.splitlines() == sheet

        ready = await outbox_events(runtime, "report.ready")
        assert len(ready) == 1 and ready[0].workspace_id == workspace
        data = ready[0].data
        assert data["report_id"] == report["id"] and data["download_url"].endswith(
            "&signature=" + data["download_url"].rsplit("=", 1)[1]
        )
        assert (await client.get(_path(data["download_url"]))).content == pdf.content


async def test_download_links_are_signed_expire_and_reports_stay_in_their_workspace(
    make_settings,
):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        await _month_of_activity(runtime, client, workspace, days=4)
        report = await _generate(app, client, workspace)
        url = _path(report["download_url"])
        assert (await client.get(url)).status_code == 200
        forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
        assert (await client.get(forged)).status_code == 403
        html_with_pdf_signature = url.replace("report.pdf", "report.html")
        assert (await client.get(html_with_pdf_signature)).status_code == 403
        expired = file_url(
            app.state.runtime.settings,
            uuid.UUID(report["id"]),
            "pdf",
            expires=datetime.now(UTC) - timedelta(seconds=1),
        )
        assert (await client.get(_path(expired))).status_code == 403
        stranger = identity(uuid.uuid4())
        assert (
            await client.get(f"/v1/reports/{report['id']}", headers=stranger)
        ).status_code == 404


async def test_reports_in_hebrew_and_icelandic(make_settings):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        await _month_of_activity(runtime, client, workspace)
        for language, title, figure in (
            ("he", "דוח רשתות חברתיות", "8,850"),
            ("is", "Skýrsla um samfélagsmiðla", "Viðbrögð 8.850 0"),
        ):
            report = await _generate(app, client, workspace, language=language)
            pdf = await client.get(_path(report["download_url"]))
            reader = PdfReader(io.BytesIO(pdf.content))
            first = reader.pages[0].extract_text()
            assert title in first and figure in first
            assert sum(len(page.images) for page in reader.pages) == 7
            html = await client.get(_path(report["download_url"]).replace(".pdf", ".html"))
            assert html.status_code == 403  # each format has its own signature
            html_url = next(f["url"] for f in report["files"] if f["format"] == "html")
            page = (await client.get(_path(html_url))).text
            direction = "rtl" if language == "he" else "ltr"
            assert f'<html lang="{language}" dir="{direction}">' in page and title in page
        assert "Tímabil: 1. nóv. 2026 – 30. nóv. 2026" in first


async def test_a_report_for_a_campaign_or_some_channels(make_settings):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        x, _fb = await _month_of_activity(runtime, client, workspace)
        h = identity(workspace, timezone=ZONE)
        rng = {"from": MONTH_START.isoformat(), "to": MONTH_END.isoformat()}
        for body, params in (
            ({"campaign_id": "winter"}, {"campaign": "winter"}),
            ({"channel_ids": [str(x)]}, {"channel_id": str(x)}),
        ):
            summary = (
                await client.get("/v1/analytics/summary", headers=h, params={**rng, **params})
            ).json()
            report = await _generate(app, client, workspace, **body)
            shown = report["figures"]["summary"]
            assert shown["engagements"]["current"] == summary["engagements"]
            assert shown["posts_published"]["current"] == summary["posts_published"] < 30
            pdf = await client.get(_path(report["download_url"]))
            text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
            assert f"Engagements {summary['engagements']:,.0f} 0" in text


async def test_bad_report_requests_are_refused_and_nothing_is_queued(make_settings):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        h = identity(workspace)
        rng = {"from": MONTH_START.isoformat(), "to": MONTH_END.isoformat()}
        cases = [
            ({**rng, "language": "fr"}, 422, "language"),
            ({"from": MONTH_END.isoformat(), "to": MONTH_START.isoformat()}, 422, "from"),
            ({**rng, "timezone": "Mars/Olympus"}, 422, "timezone"),
            ({**rng, "channel_ids": [str(uuid.uuid4())]}, 404, "channel_id"),
            ({"to": MONTH_END.isoformat()}, 422, "from"),
        ]
        for body, status, field in cases:
            answer = await client.post("/v1/reports", headers=h, json=body)
            assert answer.status_code == status, (body, answer.text)
            assert answer.json()["field"] == field
        async with runtime.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Report)) == 0
        assert not await app.state.loops["reports"].run_once()
        missing = await client.get(f"/v1/reports/{uuid.uuid4()}", headers=h)
        assert missing.status_code == 404


async def test_monthly_schedule_queues_last_months_report(make_settings):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        await _month_of_activity(runtime, client, workspace, days=6)
        h = identity(workspace, timezone=ZONE)
        made = await client.post(
            "/v1/reports/schedules",
            headers=h,
            json={"day_of_month": 1, "at": "09:00", "language": "is"},
        )
        assert made.status_code == 201, made.text
        schedule = made.json()
        first = datetime.fromisoformat(schedule["next_run_at"]).astimezone(ZoneInfo(ZONE))
        now = datetime.now(UTC)
        assert (first.day, first.hour, first.minute) == (1, 9, 0)
        assert now < first < now + timedelta(days=32) and schedule["timezone"] == ZONE
        # It is due: the 1st of December, 09:00 in Jerusalem.
        async with unit_of_work(runtime.sessions) as session:
            await session.execute(
                update(ReportSchedule).values(next_run_at=MONTH_END + timedelta(hours=9))
            )
        assert await app.state.loops["reports"].run_once()
        async with runtime.sessions() as session:
            report = await session.scalar(select(Report))
            moved = await session.scalar(select(ReportSchedule.next_run_at))
        assert report.schedule_id == uuid.UUID(schedule["id"]) and report.status == "ready"
        assert (report.range_start, report.range_end, report.language) == (
            MONTH_START,
            MONTH_END,
            "is",
        )
        assert moved == first  # the next 1st after now, once
        assert not await app.state.loops["reports"].run_once()
        listed = (await client.get("/v1/reports/schedules", headers=h)).json()["items"]
        assert [s["id"] for s in listed] == [schedule["id"]]
        # A page at a time, oldest first, in the cursor style of every list.
        more = [
            (
                await client.post(
                    "/v1/reports/schedules", headers=h, json={"day_of_month": d, "at": "08:00"}
                )
            ).json()["id"]
            for d in (2, 3)
        ]
        first_page = await client.get("/v1/reports/schedules", params={"limit": 2}, headers=h)
        page = first_page.json()
        assert [s["id"] for s in page["items"]] == [schedule["id"], more[0]]
        assert 'rel="next"' in first_page.headers["link"]
        rest = await client.get(
            "/v1/reports/schedules", params={"limit": 2, "cursor": page["next_cursor"]}, headers=h
        )
        assert [s["id"] for s in rest.json()["items"]] == [more[1]]
        assert rest.json()["next_cursor"] is None
        for extra in more:
            await client.delete(f"/v1/reports/schedules/{extra}", headers=h)
        gone = await client.delete(f"/v1/reports/schedules/{schedule['id']}", headers=h)
        assert gone.status_code == 204
        bad = await client.post(
            "/v1/reports/schedules", headers=h, json={"day_of_month": 31, "at": "09:00"}
        )
        assert bad.status_code == 422 and bad.json()["field"] == "day_of_month"


def test_schedule_times_follow_the_zone_across_daylight_saving():
    london = "Europe/London"
    spring = next_run(
        day_of_month=1, at="09:00", timezone=london, after=datetime(2026, 3, 15, tzinfo=UTC)
    )
    assert spring == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)  # BST
    winter = next_run(
        day_of_month=1, at="09:00", timezone=london, after=datetime(2026, 10, 2, tzinfo=UTC)
    )
    assert winter == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)  # GMT
    january = previous_month(datetime(2027, 1, 1, 7, 0, tzinfo=UTC), ZONE)
    assert (january.start, january.end) == (
        datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 22, 0, tzinfo=UTC),
    )


async def test_analytics_answer_charts_in_each_language(make_settings):
    from tests.metrics.images import colours, read_png, read_svg

    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        await _month_of_activity(runtime, client, workspace, days=8)
        h = identity(workspace, timezone=ZONE)
        rng = {"from": MONTH_START.isoformat(), "to": MONTH_END.isoformat()}
        asked = [
            ("/v1/analytics/summary", {}),
            ("/v1/analytics/top-posts", {"limit": 5}),
            ("/v1/analytics/conversions", {"group_by": "campaign"}),
            ("/v1/analytics/inbox", {}),
            ("/v1/analytics/inbox", {"chart": "response_times"}),
        ]
        for path, params in asked:
            drawn = {}
            for language in ("en", "he", "is"):
                # On the inbox report `language` filters messages by their language: its
                # charts are labelled in the language the client accepts.
                if path == "/v1/analytics/inbox":
                    q, lh = {**rng, **params}, {**h, "accept-language": language}
                else:
                    q, lh = {**rng, **params, "language": language}, h
                png = await client.get(path, params=q, headers={**lh, "accept": "image/png"})
                assert png.status_code == 200 and png.headers["content-type"] == "image/png"
                assert colours(read_png(png.content)) > 30, (path, language)
                drawn[language] = png.content
                svg = await client.get(path, params=q, headers={**lh, "accept": "image/svg+xml"})
                assert svg.headers["content-type"] == "image/svg+xml"
                read_svg(svg.content)
            assert len(set(drawn.values())) == 3, path  # labelled in each language
        # Without a language the Accept-Language header chooses; JSON stays the default.
        hebrew = await client.get(
            "/v1/analytics/summary",
            params={**rng, "language": "he"},
            headers={**h, "accept": "image/png"},
        )
        chosen = await client.get(
            "/v1/analytics/summary",
            params=rng,
            headers={**h, "accept": "image/png", "accept-language": "he-IL,he;q=0.9,en;q=0.5"},
        )
        assert chosen.content == hebrew.content
        plain = await client.get("/v1/analytics/summary", params=rng, headers=h)
        assert plain.headers["content-type"].startswith("application/json")
        wrong = await client.get(
            "/v1/analytics/conversions",
            params={**rng, "group_by": "post"},
            headers={**h, "accept": "image/png"},
        )
        assert wrong.status_code == 422 and wrong.json()["field"] == "group_by"
