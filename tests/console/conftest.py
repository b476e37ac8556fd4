"""The web console in a real browser: Debian's chromium driven by Playwright, against the whole
platform (tests/e2e's `platform` fixture, sandbox included) serving the built console.

Screenshots of every screen go to console/test-results/ on every run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.console import CONSOLE, ensure_built
from tests.e2e.conftest import ADMIN_TOKEN, platform  # noqa: F401  (the fixture)
from tests.support import waits

# Never let Playwright fetch a browser of its own: the machine's chromium is the one tested.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = os.environ.get("HERALD_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
RESULTS = CONSOLE / "test-results"
AXE = CONSOLE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def console_dist() -> Path:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    return ensure_built()


@pytest.fixture
async def browser(console_dist: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    RESULTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        # Playwright gives each launch a fresh, temporary --user-data-dir of its own.
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser: Any, base_url: str, *, locale: str = "en-GB") -> Any:
    # axe-core is injected as a script of the test's own; CSP would (rightly) refuse it.
    context = await browser.new_context(
        base_url=base_url,
        locale=locale,
        timezone_id="Asia/Jerusalem",
        viewport={"width": 1400, "height": 900},
        bypass_csp=True,
    )
    context.set_default_timeout(30_000)
    return await context.new_page()


async def sign_in(page: Any, key: str, name: str = "Acme") -> None:
    await page.goto("/console/")
    await page.locator("input[type=password]").fill(key)
    await page.locator("form input").nth(1).fill(name)
    await page.locator("form button[type=submit]").click()
    await page.locator("header nav").wait_for()


async def screenshot(page: Any, name: str) -> None:
    await page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations axe-core finds on the page as shown."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:5]]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


async def new_workspace(gateway_url: str, timezone: str = "Asia/Jerusalem") -> str:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        r = await client.post(
            "/v1/workspaces",
            json={"name": "Acme", "timezone": timezone},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["api_key"])


async def until(check: Any, *, seconds: float = 60, what: str = "condition") -> Any:
    """Polls `check` (async) until it answers something truthy, within `seconds`."""
    return await waits.until(check, timeout=seconds, every=0.3, what=what)
