"""The webhook receivers' fast path: a signed event verified, stored and answered in plain ASGI.

Networks push at whatever rate their audience comments, and the receiver's only job is to
verify, keep and answer. Through the framework each delivery also paid for routing, the
dependency solver and several middleware layers, several times the cost of the work itself.
This middleware sits in front of all that for `POST /hooks/{network}`: it reads the body,
runs the same verifier the route uses (the network's pack) and stores through the same writer.

Anything that is not a clean success (no receiver configured, a wrong signature, a body that
is not JSON, too large, storage unavailable) is handed to the regular route with the body
replayed, so every refusal is rendered, counted and logged in one place only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.inbox.counters import InboxCounters
from services.inbox.intake import ReceiptWriter
from services.inbox.networks import PACKS
from services.inbox.networks.meta import META
from services.inbox.receiving import store_event
from services.inbox.settings import InboxSettings
from shared.asgi import replaying
from shared.errors import DomainError
from shared.logs import request_id_var
from shared.observability import ServiceMetrics

# The route templates, as the request histogram labels them on the regular path.
ROUTES = {network: f"/hooks/{network}" for network in PACKS}
ROUTES.update({network: "/hooks/{network}" for network in META})
OK = b'{"ok":true,"duplicate":false}'
DUPLICATE = b'{"ok":true,"duplicate":true}'


class _Headers(Mapping[str, str]):
    """The request's headers by lower-case name (ASGI already lower-cases them)."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._d = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}

    def __getitem__(self, key: str) -> str:
        return self._d[key.lower()]

    def get(self, key: str, default: object = None) -> str | None:  # type: ignore[override]
        return self._d.get(key.lower(), default)  # type: ignore[arg-type]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


class HookFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: InboxSettings,
        writer: ReceiptWriter,
        counters: InboxCounters,
        metrics: ServiceMetrics,
    ) -> None:
        self.app = app
        self.settings = settings
        self.writer = writer
        self.counters = counters
        self.metrics = metrics
        # The histogram child per network, looked up once: resolving labels on every
        # delivery was a twentieth of the receiver's time.
        self.timings = {
            network: metrics.requests.labels("POST", route, "200")
            for network, route in ROUTES.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        network = path[len("/hooks/") :] if path.startswith("/hooks/") else ""
        network_app = self.settings.network_apps.get(network)
        if network not in PACKS or network_app is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _Headers(scope["headers"])
        declared = headers.get("content-length")
        limit = self.settings.max_body_bytes
        if not declared or not declared.isdigit() or int(declared) > limit:
            # Chunked or oversized: the route streams it and refuses what is too large.
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                # The client went away: let the regular path see it as it happened.
                await self.app(scope, replaying(messages, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            more = message.get("more_body", False)
            if size > limit:
                await self.app(scope, replaying(messages, receive), send)
                return
        body = b"".join(chunks)
        try:
            payload = PACKS[network].verify(self.settings, network_app, headers, body)
            stored = await store_event(
                self.writer, self.counters, network=network, payload=payload, body=body
            )
        except DomainError:
            await self.app(scope, replaying(messages, receive), send)
            return
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        request_id_var.set(request_id)
        response = OK if stored else DUPLICATE
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(response)).encode()),
                    (b"x-request-id", request_id[:200].encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response})
        self.timings[network].observe(time.perf_counter() - started)


