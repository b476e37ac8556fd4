"""ASGI pieces the kit's middlewares share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Message, Receive, Send


def header_value(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of the header `name` (lower case), None when absent."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands out the messages a middleware already read, then reads on."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def holding_json_ok(
    send: Send, *, unless: bytes, finish: Callable[[Message, Message], Awaitable[None]]
) -> Send:
    """A `send` for middlewares that complete a JSON answer once its body is known.

    The start of a 200 JSON response without the header `unless` is held back; when its body
    comes in one piece, `finish(start, body)` sends both (changed as it likes). A streamed body,
    and every other response, passes through untouched.
    """
    held: Message | None = None

    async def send_holding(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            content_type = header_value(headers, b"content-type") or b""
            if (
                message.get("status") == 200
                and content_type.startswith(b"application/json")
                and header_value(headers, unless) is None
            ):
                held = message
                return
            await send(message)
            return
        if held is not None and message["type"] == "http.response.body":
            start, held = held, None
            if not message.get("more_body", False):
                await finish(start, message)
                return
            await send(start)
        await send(message)

    return send_holding
