"""The link card in the validate answer: the scheduler asks the real publisher, which reads a
real page (served here on loopback, let through by `outbound_allow` as in development)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from services.publisher.app import create_app as create_publisher
from services.publisher.settings import PublisherSettings
from services.scheduler.settings import SchedulerSettings
from shared.auth import INTERNAL_TOKEN_HEADER
from shared.networks.cards import card_link
from shared.outbound import allowed_targets
from tests.conftest import identity
from tests.scheduler.support import Scheduler, running_scheduler
from tests.support.servers import free_port, serve

SALE_PAGE = """<html><head><title>ignored</title>
<meta property="og:title" content="Winter Sale">
<meta property="og:description" content="Everything half price until Sunday.">
<meta property="og:image" content="/img/sale.jpg">
</head><body>Sale</body></html>"""


def pages() -> FastAPI:
    """The sale page, and a page that answers only once `app.state.release` is set."""
    app = FastAPI()
    app.state.release = asyncio.Event()

    @app.get("/sale")
    async def sale() -> HTMLResponse:
        return HTMLResponse(SALE_PAGE)

    @app.get("/slow")
    async def slow() -> HTMLResponse:
        await app.state.release.wait()
        return HTMLResponse(SALE_PAGE)

    return app


@asynccontextmanager
async def platform(
    make_settings: Callable[..., Any], **scheduler: Any
) -> AsyncIterator[tuple[Scheduler, str, str, list[str]]]:
    """The scheduler, the publisher it asks and a page server; also a loopback address where
    nothing listens (a page that is down), and the URLs the publisher was asked for."""
    down = f"http://127.0.0.1:{free_port()}"
    page_server = pages()
    async with serve(page_server) as pages_url:
        publisher = create_publisher(
            make_settings(
                PublisherSettings,
                run_workers=False,
                outbound_allow=",".join(allowed_targets([pages_url, down])),
            )
        )
        asked: list[str] = []

        @publisher.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            if request.url.path == "/v1/link-previews":
                asked.append(request.query_params.get("url", ""))
            return await call_next(request)

        async with serve(publisher) as publisher_url:
            settings = make_settings(
                SchedulerSettings, run_workers=False, publisher_url=publisher_url, **scheduler
            )
            try:
                async with running_scheduler(settings) as running:
                    yield running, pages_url, down, asked
            finally:
                page_server.state.release.set()


async def validate(s: Scheduler, workspace: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    r = await s.client.post("/v1/posts/validate", json=body, headers=identity(workspace))
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def test_bluesky_and_linkedin_show_the_pages_card_and_x_none(make_settings):
    workspace = uuid.uuid4()
    async with platform(make_settings) as (s, pages_url, _down, asked):
        channels = {
            network: await s.add_channel(workspace_id=workspace, network=network)
            for network in ("bluesky", "linkedin", "x")
        }
        link = f"{pages_url}/sale"
        answer = await validate(
            s,
            workspace,
            {
                "text": f"Our sale is on: {link}. Come early!",
                "targets": [{"channel_id": str(c)} for c in channels.values()],
            },
        )
        assert answer["valid"] is True
        bluesky, linkedin, x = answer["targets"]
        expected = {
            "url": link,
            "title": "Winter Sale",
            "description": "Everything half price until Sunday.",
            "image": f"{pages_url}/img/sale.jpg",
        }
        assert (bluesky["network"], bluesky["preview"]) == ("bluesky", expected)
        assert (linkedin["network"], linkedin["preview"]) == ("linkedin", expected)
        # X builds its own card: nothing is fetched for it and no preview is set.
        assert x["network"] == "x" and "preview" not in x
        # One page, two targets: the publisher was asked once.
        assert asked == [link]


async def test_a_page_that_is_down_gives_a_null_preview_and_the_post_stays_valid(make_settings):
    workspace = uuid.uuid4()
    async with platform(make_settings) as (s, _pages_url, down, asked):
        channel = await s.add_channel(workspace_id=workspace, network="bluesky")
        answer = await validate(
            s,
            workspace,
            {"text": f"Read this {down}/gone", "targets": [{"channel_id": str(channel)}]},
        )
        assert answer["valid"] is True
        [target] = answer["targets"]
        assert "preview" in target and target["preview"] is None
        assert asked == [f"{down}/gone"]


async def test_a_slow_page_does_not_hold_the_answer(make_settings):
    workspace = uuid.uuid4()
    async with platform(make_settings, link_preview_timeout=0.5) as (s, pages_url, _, asked):
        channel = await s.add_channel(workspace_id=workspace, network="linkedin")
        started = time.monotonic()
        answer = await validate(
            s,
            workspace,
            {"text": f"Soon: {pages_url}/slow", "targets": [{"channel_id": str(channel)}]},
        )
        # The page never answered; the timeout, not the page, ended the wait.
        assert time.monotonic() - started < 5
        assert answer["valid"] is True and answer["targets"][0]["preview"] is None
        assert asked == [f"{pages_url}/slow"]


async def test_no_card_without_a_link_or_with_media(make_settings):
    workspace = uuid.uuid4()
    async with platform(make_settings) as (s, pages_url, _down, asked):
        channel = await s.add_channel(workspace_id=workspace, network="bluesky")
        target = {"channel_id": str(channel)}
        answer = await validate(s, workspace, {"text": "No link here", "targets": [target]})
        assert "preview" not in answer["targets"][0]
        image = {"url": "https://cdn.example.com/a.jpg", "kind": "image", "alt": "A sale"}
        answer = await validate(
            s,
            workspace,
            {"text": f"Sale {pages_url}/sale", "media": [image], "targets": [target]},
        )
        # Bluesky shows the images, not a card.
        assert "preview" not in answer["targets"][0]
        assert asked == []


async def test_the_publisher_route_is_internal_and_checks_the_link(make_settings):
    async with platform(make_settings) as (s, _pages_url, _down, _asked):
        publisher_url = s.settings.publisher_url
        async with httpx.AsyncClient(base_url=publisher_url) as client:
            caller = identity(uuid.uuid4())
            r = await client.get(
                "/v1/link-previews", params={"url": "ftp://a.example/x"}, headers=caller
            )
            assert r.status_code == 422 and r.json()["field"] == "url"
            anonymous = {k: v for k, v in caller.items() if k != INTERNAL_TOKEN_HEADER}
            r = await client.get(
                "/v1/link-previews", params={"url": "https://a.example/"}, headers=anonymous
            )
            assert r.status_code == 401
            analyst = identity(uuid.uuid4(), "analyst")
            r = await client.get(
                "/v1/link-previews", params={"url": "https://a.example/"}, headers=analyst
            )
            assert r.status_code == 403
            # Not in the publisher's public document: the gateway routes nothing here.
            document = (await client.get("/openapi.json", headers=caller)).json()
            assert "/v1/channels" in document["paths"]
            assert "/v1/link-previews" not in document["paths"]


def test_which_link_makes_the_card():
    text = "Details at shop.example.com/sale, or (https://blog.example.org/post)."

    def link(network: str, **given: Any) -> str | None:
        values: dict[str, Any] = {"text": text, "has_media": False, "options": {}}
        values.update(given)
        return card_link(network, **values)

    # Bluesky links only what carries its scheme; LinkedIn also links a bare domain.
    assert link("bluesky") == "https://blog.example.org/post"
    assert link("linkedin") == "https://shop.example.com/sale"
    # Facebook and Threads make the card from the link the client names, if it names one.
    assert link("facebook", options={"link": "https://named.example.net/"}) == (
        "https://named.example.net/"
    )
    assert link("threads") == "https://shop.example.com/sale"
    # With media the network shows the media; X and Mastodon make their own cards.
    assert link("threads", has_media=True) is None
    assert link("x") is None and link("mastodon") is None
    assert link("linkedin", text="no link at all") is None
