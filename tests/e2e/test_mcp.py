"""An agent works the platform over `/mcp` with the MCP SDK's own streamable HTTP client:
every tool is a call of the public API as the agent's key, so its role applies."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.flows import connect_x_channel, local_wall_clock, new_workspace, wait_for

TOOLS = {
    "list_channels",
    "validate_post",
    "schedule_post",
    "get_post",
    "find_posts",
    "read_calendar",
    "list_conversations",
    "answer_conversation",
    "analytics_summary",
    "best_times",
}


@contextlib.asynccontextmanager
async def agent(url: str, key: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def refused(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error
    return str(result.content[0].text)


async def a_series_reads_whole_on_the_calendar(session: ClientSession, channel_id: str) -> None:
    """Every occurrence of a weekly post in four months, those past the scheduler's planning
    horizon included (`materialised` false)."""
    london = ZoneInfo("Europe/London")
    first = (datetime.now(london) + timedelta(days=2)).replace(
        hour=9, minute=0, second=0, microsecond=0, tzinfo=None
    )
    series = {
        "text": "Monday tips",
        "targets": [{"channel_id": channel_id}],
        "schedule": {
            "rrule": "FREQ=WEEKLY",
            "at": first.isoformat(),
            "timezone": "Europe/London",
        },
    }
    created = await call(session, "schedule_post", post=series)
    start, end = datetime.now(UTC), datetime.now(UTC) + timedelta(days=120)
    # Nine o'clock in London each week, whatever the UTC offset of the day.
    expected = [
        local.replace(tzinfo=london).astimezone(UTC)
        for week in range(20)
        if (local := first + timedelta(weeks=week)).replace(tzinfo=london) < end
    ]
    page = await call(
        session,
        "read_calendar",
        start=start.isoformat(),
        end=end.isoformat(),
        channel_id=channel_id,
    )
    occurrences = [i for i in page["items"] if i["post_id"] == created["id"]]
    assert sorted(datetime.fromisoformat(i["due_at"]) for i in occurrences) == expected
    assert any(not i["materialised"] for i in occurrences)


async def test_an_agent_plans_publishes_and_answers_over_mcp(platform):
    config = platform.config
    gateway_url = config.url("gateway")
    async with (
        httpx.AsyncClient(base_url=gateway_url, timeout=10) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=10) as sandbox,
    ):
        key = await new_workspace(gateway, timezone="Europe/London")
        channel = await connect_x_channel(gateway, sandbox, key)
        auth = {"Authorization": f"Bearer {key}"}
        r = await gateway.post(
            "/v1/api-keys", json={"name": "bot", "role": "analyst"}, headers=auth
        )
        analyst = r.json()["api_key"]

        # No key, or a wrong one: refused before the protocol starts.
        r = await gateway.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        r = await gateway.post("/mcp", json={}, headers={"Authorization": "Bearer hk_live_nope"})
        assert r.status_code == 401

        async with agent(gateway_url, key) as session:
            tools = {t.name for t in (await session.list_tools()).tools}
            assert tools == TOOLS

            listed = await call(session, "list_channels", limit=10)
            assert [c["id"] for c in listed["items"]] == [channel["id"]]

            too_long = {"text": "x" * 300, "targets": [{"channel_id": channel["id"]}]}
            checked = await call(session, "validate_post", post=too_long)
            assert checked["valid"] is False
            text = f"From an agent {datetime.now(UTC).timestamp():.0f}"
            post = {
                "text": text,
                "targets": [{"channel_id": channel["id"]}],
                "schedule": {
                    "at": local_wall_clock(3, "Europe/London"),
                    "timezone": "Europe/London",
                },
            }
            assert (await call(session, "validate_post", post=post))["valid"] is True
            created = await call(session, "schedule_post", post=post, idempotency_key="agent-1")
            assert created["status"] == "scheduled"
            # The same idempotency key: the same post, not a second one.
            again = await call(session, "schedule_post", post=post, idempotency_key="agent-1")
            assert again["id"] == created["id"]

            # Posts are found whatever their state, drafts included, by words and filters.
            idea = {"text": "A brainstorm for later", "targets": [{"channel_id": channel["id"]}]}
            draft = await call(session, "schedule_post", post=idea)
            assert draft["status"] == "draft"
            drafts = await call(session, "find_posts", status="draft")
            assert [p["id"] for p in drafts["items"]] == [draft["id"]]
            found = await call(session, "find_posts", network="x", q="agent")
            assert [p["id"] for p in found["items"]] == [created["id"]]
            found = await call(session, "find_posts", channel_id=channel["id"], q="brainstorm")
            assert [p["id"] for p in found["items"]] == [draft["id"]]
            assert "422" in await refused(session, "find_posts", status="sent-ish")

            start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            end = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            calendar = await call(session, "read_calendar", start=start, end=end)
            assert created["id"] in {i["post_id"] for i in calendar["items"]}
            await a_series_reads_whole_on_the_calendar(session, channel["id"])

            async def published() -> dict | None:
                got = await call(session, "get_post", post_id=created["id"])
                target = got["targets"][0]
                return target if target["status"] == "published" else None

            target = await wait_for(published, what="the agent's post to go out")
            held = (
                await sandbox.get(
                    "/_sandbox/x/posts", params={"account": channel["account"]["external_id"]}
                )
            ).json()
            assert [p["text"] for p in held["items"]] == [text]

            await sandbox.post(
                f"/_sandbox/x/posts/{target['external_id']}/comments",
                json={"text": "When does it ship?", "author": "fan42"},
            )

            async def conversation() -> dict | None:
                page = await call(session, "list_conversations", status="open")
                return page["items"][0] if page["items"] else None

            thread = await wait_for(conversation, what="the comment in the inbox")
            answer = await call(
                session,
                "answer_conversation",
                conversation_id=thread["id"],
                text="Next week!",
            )
            assert answer["direction"] == "outbound"

            async def answered() -> list[dict]:
                held = (
                    await sandbox.get(
                        "/_sandbox/x/posts", params={"account": channel["account"]["external_id"]}
                    )
                ).json()
                return [p for p in held["items"] if p["text"] == "Next week!" and p["reply_to"]]

            await wait_for(answered, what="the answer on X")

            # The post is counted once metrics has heard it went out.
            async def counted() -> dict | None:
                got = await call(session, "analytics_summary", start=start, end=end)
                return got if got["posts_published"] == 1 else None

            await wait_for(counted, what="the post in the analytics summary")
            best = await call(session, "best_times", channel_id=channel["id"])
            assert best["channel_id"] == channel["id"]

            # Ids cannot walk into other routes.
            assert "Not a valid id" in await refused(session, "get_post", post_id="../channels")

        # An analyst's agent reads but may not plan: the role travels with the key.
        async with agent(gateway_url, analyst) as session:
            assert (await call(session, "list_channels"))["items"]
            message = await refused(session, "schedule_post", post=post)
            assert "403" in message
