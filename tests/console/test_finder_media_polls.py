"""Finding posts (drafts and those in review among them, Hebrew search, paging by cursor), the
media library (upload, search, preflight per network, delete) and the composer picking from it,
and polls where the network has them (refused with the reason where it has not); every new
screen checked by axe."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
from PIL import Image

from tests.console.conftest import (
    axe_violations,
    new_page,
    new_workspace,
    screenshot,
    sign_in,
    until,
)

ZONE = "Asia/Jerusalem"
DRAFTS = 23  # more than the finder's page of 20
HEBREW = "והמוצר החדש שלנו יוצא לשוק השבוע"


async def open_screen(page: Any, label: str) -> None:
    await page.locator("header nav a", has_text=label).click()
    await page.locator("main h1").first.wait_for()
    await page.wait_for_function("!document.querySelector('main [aria-busy]')")


async def settled(page: Any, selector: str) -> None:
    await page.locator(f"{selector}[data-ready]").wait_for()


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def channel(api: httpx.AsyncClient, sandbox: httpx.AsyncClient, network: str) -> str:
    account = (await sandbox.post(f"/_sandbox/{network}/accounts", json={"name": "Acme"})).json()
    r = await api.post(
        "/v1/channels", json={"network": network, "credentials": account["credentials"]}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def seed_posts(api: httpx.AsyncClient, x: str, bluesky: str) -> dict[str, str]:
    for i in range(DRAFTS):
        r = await api.post(
            "/v1/posts", json={"text": f"Plan note {i}", "targets": [{"channel_id": x}]}
        )
        assert r.status_code == 201 and r.json()["status"] == "draft", r.text
    r = await api.post(
        "/v1/posts",
        json={"text": HEBREW, "targets": [{"channel_id": bluesky}], "tags": ["השקה"]},
    )
    hebrew = r.json()["id"]
    r = await api.post(
        "/v1/posts", json={"text": "Waiting for Dana", "targets": [{"channel_id": x}]}
    )
    review = r.json()
    r = await api.post(
        f"/v1/posts/{review['id']}/submit", headers={"If-Match": f'"{review["version"]}"'}
    )
    assert r.status_code == 200 and r.json()["status"] == "in_review", r.text
    return {"hebrew": hebrew, "review": review["id"]}


async def tick_channel(page: Any, network: str, *, on: bool = True) -> None:
    """The composer's checkbox of the channel on `network` (by its badge)."""
    badge = page.locator(".badge", has_text=re.compile(f"^{network}$"))
    box = (
        page.locator("form.composer > fieldset").first.locator("label", has=badge).locator("input")
    )
    await (box.check() if on else box.uncheck())


async def rows_text(page: Any) -> list[str]:
    rows = page.locator("table[data-ready] [data-testid=post-row] .post-text")
    texts: list[str] = await rows.all_inner_texts()
    return texts


async def test_finder_library_and_polls(platform, browser):
    gateway, sandbox_url = platform.config.url("gateway"), platform.config.url("sandbox")
    key = await new_workspace(gateway, ZONE)
    api = httpx.AsyncClient(
        base_url=gateway, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    sandbox = httpx.AsyncClient(base_url=sandbox_url)
    x, bluesky = await channel(api, sandbox, "x"), await channel(api, sandbox, "bluesky")
    instagram = await channel(api, sandbox, "instagram")
    await channel(api, sandbox, "mastodon")
    seeded = await seed_posts(api, x, bluesky)

    page = await new_page(browser, gateway)
    violations: dict[str, list] = {}
    await sign_in(page, key)

    # 1. Drafts beside the calendar (they have no day on it), and all of them in the finder:
    #    a page at a time by the API's cursor.
    await page.locator("table.calendar[data-ready]").wait_for()
    drafts = page.locator("[data-testid=drafts] li")
    await until(lambda: _count_of(drafts, 10), what="ten drafts beside the calendar")
    await page.get_by_role("link", name="All drafts").click()
    await page.get_by_role("heading", name="Posts and drafts").wait_for()
    assert await page.get_by_label("Status").input_value() == "draft"
    await until(lambda: _count(page, 20), what="a first page of 20 drafts")
    first = await rows_text(page)
    await page.get_by_role("button", name="Next page").click()
    await until(lambda: _count(page, DRAFTS + 1 - 20), what="the second page")
    second = await rows_text(page)
    # Every draft exactly once over the two pages (the Hebrew one is a draft too).
    assert sorted(first + second) == sorted([f"Plan note {i}" for i in range(DRAFTS)] + [HEBREW])
    await page.get_by_role("button", name="First page").click()
    await until(lambda: _count(page, 20), what="back on the first page")
    # In review: only the post submitted for approval.
    await page.get_by_label("Status").select_option("in_review")
    await until(lambda: _texts_are(page, ["Waiting for Dana"]), what="the post in review")
    # Hebrew search: a word finds its prefixed form ("מוצר" in "והמוצר").
    await page.get_by_label("Status").select_option("")
    await page.get_by_role("searchbox", name="Search").fill("מוצר")
    await until(lambda: _texts_are(page, [HEBREW]), what="the Hebrew post")
    row = page.locator("[data-testid=post-row]").first
    assert await row.get_attribute("data-post") == seeded["hebrew"]
    assert await row.locator(".post-text").evaluate("e => getComputedStyle(e).direction") == "rtl"
    # Network and tag filters narrow the same way the API does.
    await page.get_by_role("searchbox", name="Search").fill("")
    await page.get_by_label("Network").select_option("bluesky")
    await page.get_by_label("Tag", exact=True).fill("השקה")
    await until(lambda: _texts_are(page, [HEBREW]), what="the Bluesky post tagged השקה")
    violations["posts"] = await axe_violations(page)
    await screenshot(page, "posts")

    # 2. The library: upload, the preflight each connected network gives, search, delete.
    await open_screen(page, "Media")
    await page.get_by_label("File", exact=True).set_input_files(
        {"name": "winter.png", "mimeType": "image/png", "buffer": png(2400, 600)}
    )
    await page.get_by_label("Alt text", exact=True).fill("שלג על ההר")
    await page.get_by_label("Tags (comma separated)", exact=True).fill("winter, חורף")
    await page.get_by_role("button", name="Upload", exact=True).click()
    await page.get_by_text("Uploaded: winter.png").wait_for()
    preflight = page.locator("[data-testid=preflight]")
    await preflight.wait_for()
    stored = (await api.get("/v1/media", params={"q": "winter"})).json()["items"]
    assert [m["name"] for m in stored] == ["winter.png"]
    media_id = stored[0]["id"]
    assert stored[0]["alt"] == "שלג על ההר" and stored[0]["tags"] == ["winter", "חורף"]
    # What the console shows per network is what the API's validation says of the file.
    check = await api.post(
        "/v1/posts/validate",
        json={
            "text": "",
            "media": [{"media_id": media_id}],
            "targets": [{"channel_id": c} for c in (x, bluesky, instagram)],
        },
    )
    for target in check.json()["targets"]:
        shown = await preflight.locator(f"li[data-network={target['network']}]").inner_text()
        media_problems = [p for p in target["problems"] if p["field"].startswith("media")]
        for problem in media_problems:
            assert problem["code"] in shown
        if not [p for p in media_problems if p["severity"] == "error"]:
            assert "Fits" in shown
    # A 4:1 panorama: Instagram's feed refuses its shape, and the console says so.
    refusal = await preflight.locator("li[data-network=instagram]").inner_text()
    assert "media_shape_not_supported" in refusal and "Fits" not in refusal
    violations["media"] = await axe_violations(page)
    await screenshot(page, "media")
    # A second file, found by its name, then deleted: gone from the API too.
    await page.get_by_label("File", exact=True).set_input_files(
        {"name": "spare.png", "mimeType": "image/png", "buffer": png(400, 400)}
    )
    await page.get_by_role("button", name="Upload", exact=True).click()
    await page.get_by_text("Uploaded: spare.png").wait_for()
    await page.get_by_role("searchbox", name="Search name, alt text and tags").fill("spare")
    rows = page.locator("[data-testid=media-row]")
    await until(lambda: _count_of(rows, 1), what="only the spare file")
    spare = (await api.get("/v1/media", params={"q": "spare"})).json()["items"][0]["id"]
    await rows.first.get_by_role("button", name="Delete").click()
    await page.get_by_text("Deleted.").wait_for()
    assert (await api.get(f"/v1/media/{spare}")).status_code == 404
    await page.get_by_role("searchbox", name="Search name, alt text and tags").fill("חורף")
    await until(lambda: _count_of(rows, 1), what="the winter file by its Hebrew tag")

    # 3. The composer picks the file from the library: it goes out as that file.
    await open_screen(page, "Compose")
    await page.get_by_label("Message", exact=True).fill("Snow on the mountain")
    await tick_channel(page, "x")
    await page.locator("fieldset.picker").get_by_role("checkbox", name="winter.png").check()
    await page.get_by_label("Now", exact=True).check()
    await page.get_by_text("Fits every network.").wait_for()
    await page.get_by_role("button", name="Schedule").click()
    await page.locator("table.calendar[data-ready]").wait_for()
    on_x = await until(lambda: _sandbox_post(sandbox, "x", "Snow on the mountain"), what="on X")
    assert len(on_x["media"]) == 1

    # 4. A poll: X takes one, Bluesky refuses it with the reason validation gives.
    await open_screen(page, "Compose")
    await page.get_by_label("Message", exact=True).fill("Which trail first?")
    await tick_channel(page, "x")
    await tick_channel(page, "bluesky")
    polls = page.locator("[data-testid=poll-networks]")
    await polls.locator("li[data-network=x]", has_text="options of up to 25 characters").wait_for()
    await polls.locator("li[data-network=bluesky]", has_text="has no polls").wait_for()
    await page.get_by_role("checkbox", name="Add a poll").check()
    await page.get_by_label("Poll options (one per line)").fill("North ridge\nLake path")
    await page.get_by_label("Poll duration (minutes)").fill("60")
    refused = polls.locator("li[data-network=bluesky] [data-testid=poll-refused]")
    await refused.wait_for()
    assert "option_not_supported" in await refused.inner_text()
    assert await polls.locator("li[data-network=x] [data-testid=poll-refused]").count() == 0
    assert await page.get_by_role("button", name="Schedule").is_disabled()
    violations["compose-poll"] = await axe_violations(page)
    await screenshot(page, "compose-poll")
    await tick_channel(page, "bluesky", on=False)
    await page.get_by_label("Now", exact=True).check()
    await page.get_by_text("Fits every network.").wait_for()
    await page.get_by_role("button", name="Schedule").click()
    polled = await until(lambda: _sandbox_post(sandbox, "x", "Which trail first?"), what="poll")
    assert [o["label"] for o in polled["poll"]["options"]] == ["North ridge", "Lake path"]
    assert polled["poll"]["duration_minutes"] == 60

    # Several answers per voter: Mastodon takes it, X refuses it with its rule.
    await open_screen(page, "Compose")
    await page.get_by_label("Message", exact=True).fill("Pick every trail you like")
    await tick_channel(page, "x")
    await tick_channel(page, "mastodon")
    await page.get_by_role("checkbox", name="Add a poll").check()
    await page.get_by_label("Poll options (one per line)").fill("North ridge\nLake path\nPine loop")
    await page.get_by_label("Poll duration (minutes)").fill("120")
    await page.get_by_role("checkbox", name="Voters may pick several").check()
    one_answer = polls.locator("li[data-network=x] [data-testid=poll-refused]")
    await one_answer.wait_for()
    assert "one answer per voter" in await one_answer.inner_text()
    await tick_channel(page, "x", on=False)
    await page.get_by_label("Now", exact=True).check()
    await page.get_by_text("Fits every network.").wait_for()
    await page.get_by_role("button", name="Schedule").click()
    several = await until(
        lambda: _sandbox_post(sandbox, "mastodon", "Pick every trail"), what="the Mastodon poll"
    )
    assert several["poll"]["multiple"] is True
    assert [o["label"] for o in several["poll"]["options"]] == [
        "North ridge",
        "Lake path",
        "Pine loop",
    ]

    assert {screen: found for screen, found in violations.items() if found} == {}
    await api.aclose()
    await sandbox.aclose()


async def _count(page: Any, n: int) -> bool:
    # Rows of an answer to the filters shown, not of the previous one kept on screen meanwhile.
    return bool(await page.locator("table[data-ready] [data-testid=post-row]").count() == n)


async def _count_of(locator: Any, n: int) -> bool:
    return bool(await locator.count() == n)


async def _texts_are(page: Any, texts: list[str]) -> bool:
    return await rows_text(page) == texts


async def _sandbox_post(sandbox: httpx.AsyncClient, network: str, text: str) -> Any:
    posts = (await sandbox.get(f"/_sandbox/{network}/posts")).json()["items"]
    return next((p for p in posts if text in str(p.get("text", ""))), None)
