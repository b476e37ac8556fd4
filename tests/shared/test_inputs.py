"""shared.inputs: NUL characters refused by name before any route, data errors as 422."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Body, FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.errors import install_error_handlers
from shared.inputs import InputGuard, Int32, install_data_error_handler


class Rule(BaseModel):
    name: str
    position: Int32 = 0


def app_on(database_url: str, seen: list[Any]) -> FastAPI:
    engine = create_async_engine(database_url)
    app = FastAPI()
    install_error_handlers(app)
    install_data_error_handler(app)
    app.add_middleware(InputGuard, raw_body_prefixes=("/hooks/",))

    @app.post("/rules")
    async def rules(rule: Rule) -> dict[str, Any]:
        seen.append(rule)
        return rule.model_dump()

    @app.post("/hooks/x")
    async def hook(body: dict[str, Any] = Body()) -> dict[str, Any]:
        seen.append(body)
        return {"ok": True}

    @app.get("/cast")
    async def cast(value: str, to: str) -> dict[str, Any]:
        # What reaches PostgreSQL when a route forgets a bound: its own refusal.
        async with engine.connect() as conn:
            sql = {"int": "SELECT CAST(:v AS integer)", "bad": "SELEC 1"}[to]
            await conn.execute(text(sql), {"v": int(value) if to == "int" else value})
        return {"ok": True}

    return app


async def test_nul_is_refused_by_field_and_data_errors_are_422(database_url: str) -> None:
    seen: list[Any] = []
    app = app_on(database_url, seen)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post("/rules", json={"name": "a\u0000b"})
        assert r.status_code == 422 and r.json()["field"] == "name", r.text
        r = await client.post("/rules", json={"name": "ok", "tags": {"k\u0000": 1}})
        assert r.status_code == 422 and r.json()["field"] == "tags.k", r.text
        r = await client.post("/rules", json={"name": "ok", "position": 2**40})
        assert r.status_code == 422 and r.json()["field"] == "position", r.text
        r = await client.post("/rules", params={"q": "a\u0000"}, json={"name": "ok"})
        assert r.status_code == 422 and r.json()["field"] == "query.q", r.text
        # A backslash followed by "u0000" is text, not a NUL: accepted as it is.
        r = await client.post("/rules", json={"name": "\\u0000"})
        assert r.status_code == 200 and r.json()["name"] == "\\u0000", r.text
        assert [rule.name for rule in seen] == ["\\u0000"]
        # Webhook bodies are the network's exact bytes: left alone.
        r = await client.post("/hooks/x", json={"text": "a\u0000b"})
        assert r.status_code == 200 and seen[-1] == {"text": "a\u0000b"}

        r = await client.get("/cast", params={"value": str(10**17), "to": "int"})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        # Any other database error stays the server's: a 500.
        r = await client.get("/cast", params={"value": "1", "to": "bad"})
        assert r.status_code == 500, r.text
