"""The README's walk, in the browser: connect a channel through the network's OAuth, compose
per-network variants (the exact failing rule shown), schedule, see it published on the
calendar, receive a comment in the inbox, reply, see analytics; every screen checked by axe."""

from __future__ import annotations

from datetime import datetime, timedelta
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


async def open_screen(page: Any, label: str) -> None:
    await page.locator("header nav a", has_text=label).click()
    await page.locator("main h1").first.wait_for()


async def test_walk_plan_write_schedule_publish_answer_measure(platform, browser):
    gateway, sandbox_url = platform.config.url("gateway"), platform.config.url("sandbox")
    key = await new_workspace(gateway, ZONE)
    api = httpx.AsyncClient(base_url=gateway, headers={"Authorization": f"Bearer {key}"})
    sandbox = httpx.AsyncClient(base_url=sandbox_url)
    # A second network beside the one connected in the browser: a Bluesky account by its
    # credentials, as the API walk does.
    account = (await sandbox.post("/_sandbox/bluesky/accounts", json={"name": "Acme"})).json()
    bluesky = {"network": "bluesky", "credentials": account["credentials"]}
    r = await api.post("/v1/channels", json=bluesky)
    assert r.status_code == 201, r.text

    page = await new_page(browser, gateway)
    violations: dict[str, list] = {}
    await sign_in(page, key)

    # 1. Connect X: the API gives the network's authorize URL, the network sends the browser
    #    back to the console with a code, the console hands it to the API.
    await open_screen(page, "Settings")
    await page.get_by_label("Network").last.select_option("x")
    await page.get_by_role("button", name="Connect").click()
    await page.wait_for_url("**/console/settings/callback/x?*")
    await page.get_by_text("Channel connected").first.wait_for()
    await page.wait_for_url("**/console/settings")
    rows = page.locator("[data-testid=channel-row]")
    await until(lambda: _count_is(rows, 2), what="two channels listed")
    assert await rows.filter(has_text="active").count() == 2
    violations["settings"] = await axe_violations(page)
    await screenshot(page, "settings")

    # 2. One message, a variant per network; the X variant first too long for X.
    await open_screen(page, "Compose")
    for box in await page.locator("fieldset input[type=checkbox]").all():
        await box.check()
    await page.get_by_label("Message", exact=True).fill("Hello from Herald")
    await page.get_by_role("tab", name="x").click()
    await page.get_by_label("Text for x").fill("x" * 300)
    rule = page.locator("[data-testid=rule]")
    await rule.first.wait_for()
    assert "text_too_long" in await rule.first.inner_text()
    assert "300 / 280" in await page.locator("[data-testid=counter-x]").inner_text()
    await page.get_by_label("Text for x").fill("Hello X, from Herald")
    await page.get_by_role("tab", name="bluesky").click()
    await page.get_by_label("Text for bluesky").fill("Hello Bluesky, from Herald 🦋")
    await page.locator("[data-testid=counter-bluesky]").wait_for()
    await page.get_by_text("Fits every network.").wait_for()
    at = (datetime.now(ZoneInfo(ZONE)) + timedelta(seconds=15)).replace(tzinfo=None)
    await page.get_by_label("Date and time").fill(at.isoformat(timespec="seconds"))
    await page.get_by_label("Time zone").fill(ZONE)
    violations["compose"] = await axe_violations(page)
    await screenshot(page, "compose")
    await page.get_by_role("button", name="Schedule").click()

    # 3. On the calendar, then published there (the calendar refreshes itself).
    await page.locator("table.calendar[data-ready]").wait_for()
    entries = page.locator(".entry", has_text="from Herald")
    await entries.first.wait_for()
    post_id = await entries.first.get_attribute("data-post")
    await page.locator(".entry", has_text="published").nth(1).wait_for(timeout=90_000)
    violations["calendar"] = await axe_violations(page)
    await screenshot(page, "calendar")

    # 4. A comment on the X post reaches the inbox; the answer goes back to X.
    post = (await api.get(f"/v1/posts/{post_id}")).json()
    tweet = next(t for t in post["targets"] if t["network"] == "x")["external_id"]
    r = await sandbox.post(
        f"/_sandbox/x/posts/{tweet}/comments", json={"text": "Love this!", "author": "fan42"}
    )
    assert r.status_code < 300, r.text
    await open_screen(page, "Inbox")
    await page.locator("button.conversation").first.wait_for(timeout=60_000)
    await page.locator("button.conversation").first.click()
    await page.get_by_text("Love this!").wait_for()
    await page.get_by_role("textbox", name="Reply", exact=True).fill("Thank you! 🙏")
    await page.get_by_role("button", name="Send reply").click()
    await page.locator(".message.outbound", has_text="Thank you!").wait_for()
    violations["inbox"] = await axe_violations(page)
    await screenshot(page, "inbox")
    # The network holds the answer.
    await until(lambda: _on_x(sandbox, "Thank you!"), what="the reply on X")

    # 5. Analytics, approvals and alerts screens answer from the API.
    await open_screen(page, "Analytics")
    await page.locator("[data-testid=summary] dd").first.wait_for()
    violations["analytics"] = await axe_violations(page)
    await screenshot(page, "analytics")
    for label, name in (("Approvals", "approvals"), ("Alerts", "alerts")):
        await open_screen(page, label)
        await page.wait_for_function("!document.querySelector('main [aria-busy]')")
        violations[name] = await axe_violations(page)
        await screenshot(page, name)

    assert {screen: found for screen, found in violations.items() if found} == {}
    await api.aclose()
    await sandbox.aclose()


async def _count_is(locator: Any, n: int) -> bool:
    return bool(await locator.count() == n)


async def _on_x(sandbox: httpx.AsyncClient, text: str) -> bool:
    posts = (await sandbox.get("/_sandbox/x/posts")).json()["items"]
    return any(text in str(p.get("text", "")) for p in posts)
