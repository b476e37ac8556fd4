"""The shared middlewares behind the conventions (shared/etag.py, shared/pagination.py), on a
small app of their own: the platform-wide sweeps are in test_conventions.py."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI, Header, Response

from shared.errors import install_error_handlers
from shared.etag import ETagMiddleware, body_etag
from shared.pagination import LinkHeaderMiddleware, next_link


def notes_app() -> tuple[FastAPI, dict[str, Any]]:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(LinkHeaderMiddleware)
    app.add_middleware(ETagMiddleware)
    store: dict[str, Any] = {"note": {"text": "hello"}, "writes": 0, "versioned": 1}

    @app.get("/notes/1")
    async def get_note() -> dict[str, Any]:
        return store["note"]

    @app.patch("/notes/1")
    async def patch_note(body: dict[str, Any]) -> dict[str, Any]:
        store["writes"] += 1
        store["note"] = {**store["note"], **body}
        return store["note"]

    @app.delete("/notes/1", status_code=204)
    async def delete_note() -> Response:
        store["writes"] += 1
        store["note"] = {}
        return Response(status_code=204)

    @app.get("/versioned")
    async def get_versioned(response: Response) -> dict[str, Any]:
        response.headers["ETag"] = f'"{store["versioned"]}"'
        return {"v": store["versioned"]}

    @app.patch("/versioned")
    async def patch_versioned(
        response: Response, if_match: str | None = Header(default=None)
    ) -> dict[str, Any]:
        # Its own check: the middleware must leave If-Match to it.
        store["seen_if_match"] = if_match
        store["versioned"] += 1
        response.headers["ETag"] = f'"{store["versioned"]}"'
        return {"v": store["versioned"]}

    @app.get("/items")
    async def items(limit: int = 2, cursor: str | None = None) -> dict[str, Any]:
        start = int(cursor or 0)
        rows = list(range(5))[start : start + limit]
        more = start + limit < 5
        return {"items": rows, "next_cursor": str(start + limit) if more else None}

    return app, store


async def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_etag_if_match_and_if_none_match():
    app, store = notes_app()
    async with await client(app) as c:
        r = await c.get("/notes/1")
        tag = r.headers["etag"]
        assert tag == body_etag(r.content)
        assert (await c.get("/notes/1", headers={"If-None-Match": tag})).status_code == 304

        stale = await c.patch("/notes/1", json={"text": "x"}, headers={"If-Match": '"nope"'})
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"
        assert stale.json()["field"] == "If-Match"
        assert store["writes"] == 0

        r = await c.patch("/notes/1", json={"text": "bye"}, headers={"If-Match": tag})
        assert r.status_code == 200 and r.json() == {"text": "bye"}
        new_tag = r.headers["etag"]
        assert new_tag != tag and new_tag == (await c.get("/notes/1")).headers["etag"]

        # The old tag no longer matches, for a delete either.
        assert (await c.delete("/notes/1", headers={"If-Match": tag})).status_code == 412
        assert store["writes"] == 1
        assert (await c.delete("/notes/1", headers={"If-Match": new_tag})).status_code == 204
        assert store["writes"] == 2


async def test_endpoints_with_their_own_versions_are_left_alone():
    app, store = notes_app()
    async with await client(app) as c:
        r = await c.get("/versioned")
        assert r.headers["etag"] == '"1"'
        r = await c.patch("/versioned", headers={"If-Match": '"7"'})
        assert r.status_code == 200 and store["seen_if_match"] == '"7"'
        assert r.headers["etag"] == '"2"'


async def test_link_header_on_pages_with_more():
    app, _ = notes_app()
    async with await client(app) as c:
        r = await c.get("/items", params={"limit": 2})
        assert r.json()["next_cursor"] == "2"
        assert r.headers["link"] == '</items?limit=2&cursor=2>; rel="next"'
        seen = list(r.json()["items"])
        while "link" in r.headers:
            target = r.headers["link"].split(">")[0].lstrip("<")
            r = await c.get(target)
            seen += r.json()["items"]
        assert seen == [0, 1, 2, 3, 4]
        assert r.json()["next_cursor"] is None


def test_next_link_replaces_the_cursor_and_keeps_the_rest():
    link = next_link("/v1/x", b"limit=5&cursor=old&status=open", "n/e+w")
    assert link == '</v1/x?limit=5&status=open&cursor=n%2Fe%2Bw>; rel="next"'
