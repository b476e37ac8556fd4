"""`/mcp`: the Model Context Protocol endpoint (streamable HTTP) for agents.

An agent connects with a workspace API key as its bearer token. Every tool is one call of the
public API, made through the gateway itself with that same key: rate limits, idempotency,
routing and the key's role apply exactly as for any other client, and nothing here reads a
service's data on its own. The server is stateless (each POST stands alone, answered as
JSON), so any gateway replica answers any call and no session needs to stick to one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

import httpx
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.edge.asgi import send_problem
from services.gateway.edge.keys import Authenticator
from shared.errors import DomainError

MCP_PATH = "/mcp"
INSTRUCTIONS = (
    "Herald plans, publishes, answers and measures a workspace's social media. Times are RFC "
    "3339. Lists take `limit` and `cursor` and answer `next_cursor`. A post has `text`, "
    "`targets` (each a `channel_id`, with optional per-network `text` and `options`) and an "
    "optional `schedule` (`at` in local wall-clock time and a `timezone`); validate it before "
    "scheduling. What a tool may do depends on the API key's role."
)

Limit = Annotated[int, Field(ge=1, le=200, description="At most this many items")]
# GET /v1/posts pages hold at most 100 posts.
PostsLimit = Annotated[int, Field(ge=1, le=100, description="At most this many posts")]
Cursor = Annotated[str | None, Field(max_length=500, description="`next_cursor` of a page")]
Moment = Annotated[str, Field(max_length=40, description="RFC 3339 date-time")]


class ApiCaller:
    """Calls the gateway's own public API in-process, as the agent's API key."""

    def __init__(self, app: Callable[[], ASGIApp]) -> None:
        self._app = app

    async def call(
        self,
        ctx: Context,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        incoming = ctx.headers or {}
        forwarded = {"authorization": incoming.get("authorization", "")}
        if "x-request-id" in incoming:
            forwarded["x-request-id"] = incoming["x-request-id"]
        query = {k: v for k, v in (params or {}).items() if v is not None}
        transport = httpx.ASGITransport(app=self._app())
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.request(
                method, path, params=query, json=json, headers={**forwarded, **(headers or {})}
            )
        if response.status_code >= 400:
            # The problem's own words, so the agent can correct the call (field, errors).
            raise ToolError(f"{method} {path} answered {response.status_code}: {response.text}")
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()


def build_server(caller: ApiCaller) -> MCPServer:
    server: MCPServer = MCPServer(name="Herald", instructions=INSTRUCTIONS)
    _planning_tools(server, caller)
    _post_reading_tools(server, caller)
    _inbox_tools(server, caller)
    _analytics_tools(server, caller)
    return server


def _planning_tools(server: MCPServer, caller: ApiCaller) -> None:
    @server.tool(description="The workspace's connected channels (network accounts).")
    async def list_channels(ctx: Context, limit: Limit = 50, cursor: Cursor = None) -> Any:
        return await caller.call(
            ctx, "GET", "/v1/channels", params={"limit": limit, "cursor": cursor}
        )

    @server.tool(
        description="Checks a post against every target network's rules without saving "
        "it: per-target errors, warnings and the text each network will get."
    )
    async def validate_post(ctx: Context, post: dict[str, Any]) -> Any:
        return await caller.call(ctx, "POST", "/v1/posts/validate", json=post)

    @server.tool(
        description="Creates a post: scheduled when it has a `schedule`, else a draft (in "
        "review when the workspace requires approval). `idempotency_key` makes a retry safe."
    )
    async def schedule_post(
        ctx: Context,
        post: dict[str, Any],
        idempotency_key: Annotated[str | None, Field(max_length=200)] = None,
    ) -> Any:
        headers = {"idempotency-key": idempotency_key} if idempotency_key else None
        return await caller.call(ctx, "POST", "/v1/posts", json=post, headers=headers)


def _post_reading_tools(server: MCPServer, caller: ApiCaller) -> None:
    @server.tool(description="One post with its targets, their status and network links.")
    async def get_post(ctx: Context, post_id: str) -> Any:
        return await caller.call(ctx, "GET", f"/v1/posts/{_segment(post_id)}")

    @server.tool(
        description="Every post, drafts included, newest first: by status (`draft`, "
        "`in_review`, `scheduled`, `published`, …), channel, network, campaign, tag, or "
        "words its text contains (`q`)."
    )
    async def find_posts(
        ctx: Context,
        status: Annotated[str | None, Field(max_length=30)] = None,
        channel_id: str | None = None,
        network: Annotated[str | None, Field(max_length=20)] = None,
        campaign: Annotated[str | None, Field(max_length=200)] = None,
        tag: Annotated[str | None, Field(max_length=100)] = None,
        q: Annotated[str | None, Field(max_length=500)] = None,
        limit: PostsLimit = 50,
        cursor: Cursor = None,
    ) -> Any:
        params = {
            "status": status,
            "channel_id": channel_id,
            "network": network,
            "campaign": campaign,
            "tag": tag,
            "q": q,
            "limit": limit,
            "cursor": cursor,
        }
        return await caller.call(ctx, "GET", "/v1/posts", params=params)

    @server.tool(
        description="The calendar: what goes out between `start` and `end`, every "
        "occurrence of a recurring post included (`materialised` false for those not yet "
        "planned as a target)."
    )
    async def read_calendar(
        ctx: Context,
        start: Moment,
        end: Moment,
        channel_id: str | None = None,
        network: Annotated[str | None, Field(max_length=20)] = None,
        status: Annotated[str | None, Field(max_length=30)] = None,
        tag: Annotated[str | None, Field(max_length=100)] = None,
        campaign: Annotated[str | None, Field(max_length=200)] = None,
        limit: Limit = 200,
        cursor: Cursor = None,
    ) -> Any:
        params = {
            "from": start,
            "to": end,
            "channel_id": channel_id,
            "network": network,
            "status": status,
            "tag": tag,
            "campaign": campaign,
            "limit": limit,
            "cursor": cursor,
        }
        return await caller.call(ctx, "GET", "/v1/calendar", params=params)


def _inbox_tools(server: MCPServer, caller: ApiCaller) -> None:
    @server.tool(description="Inbox conversations (comments, mentions, DMs), newest first.")
    async def list_conversations(
        ctx: Context,
        status: Literal["open", "pending", "resolved"] | None = None,
        network: str | None = None,
        channel_id: str | None = None,
        assignee: str | None = None,
        q: Annotated[str | None, Field(max_length=500)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Any:
        params = {
            "status": status,
            "network": network,
            "channel_id": channel_id,
            "assignee": assignee,
            "q": q,
            "limit": limit,
            "cursor": cursor,
        }
        return await caller.call(ctx, "GET", "/v1/conversations", params=params)

    @server.tool(
        description="Answers a conversation on its network (as a reply to the latest "
        "message); the answer shows as `sending` until the network confirms it."
    )
    async def answer_conversation(
        ctx: Context,
        conversation_id: str,
        text: Annotated[str, Field(min_length=1, max_length=10_000)],
    ) -> Any:
        path = f"/v1/conversations/{_segment(conversation_id)}/replies"
        return await caller.call(ctx, "POST", path, json={"text": text})


def _analytics_tools(server: MCPServer, caller: ApiCaller) -> None:
    @server.tool(description="Growth and engagement over a range (default: the last 30 days).")
    async def analytics_summary(
        ctx: Context,
        start: Moment | None = None,
        end: Moment | None = None,
        channel_id: str | None = None,
        network: str | None = None,
    ) -> Any:
        params = {"from": start, "to": end, "channel_id": channel_id, "network": network}
        return await caller.call(ctx, "GET", "/v1/analytics/summary", params=params)

    @server.tool(description="A channel's best times to post, from its own history.")
    async def best_times(ctx: Context, channel_id: str) -> Any:
        return await caller.call(
            ctx, "GET", "/v1/analytics/best-times", params={"channel_id": channel_id}
        )


def _segment(value: str) -> str:
    """An id as one path segment: nothing that could step into another route."""
    if not value or any(c in value for c in "/?#%") or value in (".", ".."):
        raise ToolError(f"Not a valid id: {value!r}.")
    return value


class McpEndpoint:
    """`/mcp` behind the API key: a missing or revoked key gets a 401 problem before the
    protocol starts; a valid one is passed on, and each tool call proves it again."""

    def __init__(self, server: MCPServer, *, authenticator: Authenticator) -> None:
        # DNS-rebinding protection guards servers that trust the browser's ambient access
        # (localhost, cookies); this one trusts only the bearer key, whatever the Host.
        server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.server = server
        self.authenticator = authenticator

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            await self.authenticator.authenticate(
                request.headers.get("authorization"),
                client=request.client.host if request.client else None,
            )
        except DomainError as exc:
            await send_problem(send, scope, exc)
            return
        await self.server.session_manager.handle_request(scope, receive, send)
