"""Campaigns made and edited in the browser with their report; one occurrence of a recurring
post edited alone and another, not made yet, skipped from the calendar; the inbox showing a new
comment on its own, without a reload; every new screen checked by axe."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.console.conftest import (
    axe_violations,
    new_page,
    new_workspace,
    screenshot,
    sign_in,
    until,
)

ZONE = "Asia/Jerusalem"
CAMPAIGN = "מבצע חורף"


async def open_screen(page: Any, label: str) -> None:
    await page.locator("header nav a", has_text=label).click()
    await page.locator("main h1").first.wait_for()
    await page.wait_for_function("!document.querySelector('main [aria-busy]')")


async def x_channel(api: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> str:
    account = (await sandbox.post("/_sandbox/x/accounts", json={"name": "Acme"})).json()
    r = await api.post("/v1/channels", json={"network": "x", "credentials": account["credentials"]})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def show_month_of(page: Any, day: date) -> None:
    """Moves the month calendar from this month forward to the month of `day`."""
    await page.get_by_role("button", name="Today").click()
    today = datetime.now(ZoneInfo(ZONE)).date()
    for _ in range((day.year - today.year) * 12 + day.month - today.month):
        await page.locator("[data-testid=next]").click()
    await page.locator("table.calendar[data-ready]").wait_for()


async def occurrences(api: httpx.AsyncClient, post_id: str) -> list[dict[str, Any]]:
    now = datetime.now(ZoneInfo(ZONE))
    params = {"from": now.isoformat(), "to": (now + timedelta(days=150)).isoformat()}
    items = (await api.get("/v1/calendar", params={**params, "limit": 1000})).json()["items"]
    return [i for i in items if i["post_id"] == post_id]


async def test_campaigns_occurrences_and_live_inbox(platform, browser):
    gateway, sandbox_url = platform.config.url("gateway"), platform.config.url("sandbox")
    key = await new_workspace(gateway, ZONE)
    api = httpx.AsyncClient(
        base_url=gateway, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    sandbox = httpx.AsyncClient(base_url=sandbox_url)
    x = await x_channel(api, sandbox)
    page = await new_page(browser, gateway)
    violations: dict[str, list] = {}
    await sign_in(page, key)

    # 1. A campaign made in the browser, with dates, goal, UTM defaults and tags.
    await open_screen(page, "Campaigns")
    await page.get_by_role("button", name="New campaign").click()
    await page.get_by_label("Name", exact=True).fill(CAMPAIGN)
    await page.get_by_label("Starts").fill("2026-12-01")
    await page.get_by_label("Ends").fill("2027-02-28")
    await page.get_by_label("Goal metric").select_option("conversions")
    await page.get_by_label("Goal target").fill("10")
    await page.get_by_label("utm_source").fill("herald")
    await page.get_by_label("utm_medium").fill("social")
    await page.get_by_label("Tags (comma separated)").fill("winter, חורף")
    # Enter in a field sends the form, as in any form.
    await page.get_by_label("Tags (comma separated)").press("Enter")
    await page.get_by_role("heading", name="Edit campaign").wait_for()
    made = (await api.get("/v1/campaigns")).json()["items"]
    assert [c["name"] for c in made] == [CAMPAIGN]
    campaign = made[0]
    assert campaign["goal"] == {"metric": "conversions", "target": 10}
    assert campaign["utm"] == {"source": "herald", "medium": "social"}
    assert campaign["tags"] == ["winter", "חורף"]
    assert campaign["starts_at"] is not None and campaign["ends_at"] is not None

    # Edited: sent with its version; the API holds the change.
    await page.get_by_label("Name", exact=True).fill(f"{CAMPAIGN} 2027")
    await page.get_by_label("Goal target").fill("20")
    await page.get_by_label("utm_medium").fill("")
    await page.get_by_role("button", name="Save").click()
    await page.locator("[data-testid=campaign-row]", has_text=f"{CAMPAIGN} 2027").wait_for()
    edited = (await api.get(f"/v1/campaigns/{campaign['id']}")).json()
    assert edited["name"] == f"{CAMPAIGN} 2027" and edited["version"] == campaign["version"] + 1
    assert edited["goal"]["target"] == 20 and edited["utm"] == {"source": "herald"}

    # The composer offers it by name.
    await open_screen(page, "Compose")
    offered = page.locator("#campaign-names option")
    await until(lambda: _values(offered, [f"{CAMPAIGN} 2027"]), what="the campaign offered")
    await open_screen(page, "Campaigns")
    await page.locator("[data-testid=campaign-row] button").first.click()

    # The report follows a post of the campaign once it is out on X.
    r = await api.post(
        "/v1/posts",
        json={
            "text": "Winter is here",
            "targets": [{"channel_id": x}],
            "campaign_id": campaign["id"],
            "schedule": {"now": True},
        },
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    x_row = page.locator("[data-testid=campaign-report] tr[data-network=x] td").first
    await until(lambda: _text_is(x_row, "1"), seconds=90, what="the X post in the report")
    total = page.locator("[data-testid=campaign-report] tr[data-network=total] td").first
    assert await total.inner_text() == "1"
    assert "of 20 conversions" in await page.locator("[data-testid=goal]").inner_text()
    violations["campaigns"] = await axe_violations(page)
    await screenshot(page, "campaigns")

    # 2. The inbox open: a comment on that post shows up on its own, without a reload.
    await open_screen(page, "Inbox")
    await page.evaluate("window.stayed = true")
    tweet = (await api.get(f"/v1/posts/{post_id}")).json()["targets"][0]["external_id"]
    r = await sandbox.post(
        f"/_sandbox/x/posts/{tweet}/comments", json={"text": "Snow yet?", "author": "skier"}
    )
    assert r.status_code < 300, r.text
    await page.locator("button.conversation", has_text="skier").wait_for(timeout=60_000)
    assert await page.evaluate("window.stayed") is True
    assert "Updated" in await page.locator("[data-testid=inbox-updated]").inner_text()

    # 3. A weekly post: its first occurrence edited alone, a later one (not made yet) skipped.
    first = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0, tzinfo=None
    )
    r = await api.post(
        "/v1/posts",
        json={
            "text": "Weekly trail tip",
            "targets": [{"channel_id": x}],
            "schedule": {"rrule": "FREQ=WEEKLY", "at": first.isoformat(), "timezone": ZONE},
        },
    )
    assert r.status_code == 201, r.text
    series = r.json()["id"]
    planned = await occurrences(api, series)
    made_one = next(i for i in planned if i["target_id"])
    later = next(i for i in planned if not i["materialised"])

    await open_screen(page, "Calendar")
    made_day = date.fromisoformat(made_one["local_due_at"][:10])
    await show_month_of(page, made_day)
    cell = page.locator(f"td[data-day='{made_day.isoformat()}']")
    await cell.locator(f".entry[data-post='{series}']").click()
    panel = page.locator("[data-testid=occurrence]")
    await panel.locator("textarea").fill("Weekly trail tip: the north ridge")
    await panel.get_by_role("button", name="Save this occurrence only").click()
    await page.get_by_text("Occurrence edited").wait_for()
    alone = (await api.get("/v1/posts", params={"q": "north ridge"})).json()["items"]
    assert len(alone) == 1 and alone[0]["series_id"] == series
    assert datetime.fromisoformat(alone[0]["occurrence_at"]) == datetime.fromisoformat(
        made_one["due_at"]
    )

    later_day = date.fromisoformat(later["local_due_at"][:10])
    await show_month_of(page, later_day)
    entry = page.locator(f"td[data-day='{later_day.isoformat()}'] .entry.planned")
    # By keyboard: the entry opens with Enter, the skip is a button reached by Tab.
    await entry.filter(has_text="Weekly trail tip").focus()
    await page.keyboard.press("Enter")
    await panel.locator("[data-testid=not-made]").wait_for()
    violations["calendar-occurrence"] = await axe_violations(page)
    await screenshot(page, "calendar-occurrence")
    await panel.get_by_role("button", name="Save this occurrence only").focus()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip this occurrence"
    await page.keyboard.press("Enter")
    await page.get_by_text("Occurrence skipped.").wait_for()
    left = {i["due_at"] for i in await occurrences(api, series)}
    assert later["due_at"] not in left
    # The week after it still comes.
    assert any(due > later["due_at"] for due in left)

    assert {screen: found for screen, found in violations.items() if found} == {}
    await api.aclose()
    await sandbox.aclose()


async def _text_is(locator: Any, text: str) -> bool:
    return bool(await locator.count()) and await locator.inner_text() == text


async def _values(locator: Any, values: list[str]) -> bool:
    found = [await o.get_attribute("value") for o in await locator.all()]
    return found == values
