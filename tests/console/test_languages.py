"""Hebrew from the browser's language: the whole layout mirrors, user-written text finds its own
direction, every screen passes axe; Icelandic by the language switch."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.console.conftest import axe_violations, new_page, new_workspace, screenshot

ZONE = "Asia/Jerusalem"
MIXED = "מבצע חורף של Acme: https://example.com/winter עכשיו"
SCREENS = {
    "calendar": "לוח שנה",
    "posts": "פוסטים",
    "compose": "כתיבה",
    "media": "מדיה",
    "approvals": "אישורים",
    "inbox": "תיבת דואר",
    "campaigns": "קמפיינים",
    "alerts": "התראות",
    "analytics": "ניתוח נתונים",
    "settings": "הגדרות",
}


async def box(page: Any, selector: str) -> dict[str, float]:
    found: dict[str, float] = await page.locator(selector).first.bounding_box()
    return found


async def test_hebrew_mirrors_the_console_and_every_screen_passes_axe(platform, browser):
    gateway, sandbox_url = platform.config.url("gateway"), platform.config.url("sandbox")
    key = await new_workspace(gateway, ZONE)
    async with (
        httpx.AsyncClient(base_url=gateway, headers={"Authorization": f"Bearer {key}"}) as api,
        httpx.AsyncClient(base_url=sandbox_url) as sandbox,
    ):
        account = (await sandbox.post("/_sandbox/x/accounts", json={"name": "Acme"})).json()
        r = await api.post(
            "/v1/channels", json={"network": "x", "credentials": account["credentials"]}
        )
        assert r.status_code == 201, r.text
        at = (datetime.now(ZoneInfo(ZONE)) + timedelta(hours=2)).replace(tzinfo=None)
        r = await api.post(
            "/v1/posts",
            json={
                "text": MIXED,
                "targets": [{"channel_id": r.json()["id"]}],
                "schedule": {"at": at.isoformat(timespec="seconds"), "timezone": ZONE},
            },
        )
        assert r.status_code == 201, r.text
        post_id = r.json()["id"]

    page = await new_page(browser, gateway, locale="he-IL")
    await page.goto("/console/")
    # The browser speaks Hebrew: so does the console, right to left, before anyone signs in.
    assert await page.evaluate("document.documentElement.dir") == "rtl"
    assert await page.evaluate("document.documentElement.lang") == "he"
    await page.get_by_role("heading", name="כניסה ל-Herald").wait_for()
    assert await axe_violations(page) == []
    await screenshot(page, "he-signin")
    await page.locator("input[type=password]").fill(key)
    await page.locator("form button[type=submit]").click()

    await page.locator("table.calendar[data-ready]").wait_for()
    width = page.viewport_size["width"]
    # Mirrored: the brand at the inline start is on the right, the tools on the left.
    brand, tools = await box(page, ".brand"), await box(page, ".top-tools")
    assert brand["x"] > width / 2 > tools["x"]
    # Monday (the first day) is the rightmost column.
    first, last = (
        await box(page, "table.calendar th"),
        await box(page, "table.calendar th >> nth=6"),
    )
    assert first["x"] > last["x"]
    # The post's own text: Hebrew first, so right to left, its English and URL kept in order.
    entry = page.locator(".entry-text", has_text="https://example.com/winter")
    assert await entry.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert await entry.inner_text() == MIXED
    # Numbers and dates through Intl, in Hebrew.
    assert "פוסטים מתוזמנים" in await page.locator("[data-testid=calendar-count]").inner_text()

    # Keyboard only: the skip link comes first; a post opens with Enter and moves to another
    # day from its panel (the drag's keyboard twin), sent with the post's ETag.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.locator(".entry", has_text="https://example.com/winter").focus()
    await page.keyboard.press("Enter")
    move = page.get_by_label("העברה אל")
    await move.focus()
    tomorrow = (at + timedelta(days=1)).date()
    await move.fill(tomorrow.isoformat())
    # (Tab inside a date field walks its day, month and year: focus Save, as Shift+Tab would.)
    await page.get_by_role("button", name="שמירה").focus()
    await page.keyboard.press("Enter")
    await page.get_by_text("התזמון עודכן.").wait_for()
    async with httpx.AsyncClient(
        base_url=gateway, headers={"Authorization": f"Bearer {key}"}
    ) as api:
        moved = (await api.get(f"/v1/posts/{post_id}")).json()["targets"][0]
    assert moved["local_due_at"].startswith(tomorrow.isoformat())
    assert moved["local_due_at"][11:19] == at.isoformat()[11:19]

    found = {}
    for name, label in SCREENS.items():
        await page.locator("header nav a", has_text=label).click()
        await page.locator("main h1").first.wait_for()
        await page.wait_for_function("!document.querySelector('main [aria-busy]')")
        found[name] = await axe_violations(page)
        await screenshot(page, f"he-{name}")
    assert {name: v for name, v in found.items() if v} == {}

    # The switch: Icelandic, left to right, and it stays chosen.
    await page.locator(".top-tools select").last.select_option("is")
    await page.locator("header nav a", has_text="Dagatal").wait_for()
    assert await page.evaluate("document.documentElement.dir") == "ltr"
    assert await page.evaluate("document.documentElement.lang") == "is"
    await page.reload()
    await page.locator("header nav a", has_text="Stillingar").wait_for()
    await screenshot(page, "is-settings")
