"""Injected failures: latency, errors (before or after the request took effect), hangs, 429s.

Implemented as plain ASGI middleware so the fault-free path costs one list check per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import errors
from sandbox.http import NetError
from sandbox.settings import SandboxSettings
from sandbox.state import NETWORKS


class RateLimitSpec(BaseModel):
    limit: int = 1
    window_seconds: float = 60.0
    status: int | None = None


class FaultSpec(BaseModel):
    network: str | None = None
    # A substring of the path, or a glob when it has ``*``; may start with a method ("POST ").
    endpoint: str | None = None
    error_rate: float = 0.0
    status: int = 503
    latency_ms: int = 0
    timeout_rate: float = 0.0
    rate_limit: RateLimitSpec | None = None
    expire_tokens: bool = False
    # "after" lets the request take effect first, then fails or hangs: the unknown outcome.
    phase: Literal["before", "after"] = "before"
    # Trigger at most this many times, then the rule stops firing.
    count: int | None = Field(default=None, ge=0)
    # Let this many matching requests through untouched first (fail the third part of a
    # thread, not the first).
    skip: int = Field(default=0, ge=0)


@dataclass(slots=True)
class Rule:
    spec: FaultSpec
    method: str | None
    pattern: str | None
    fired: int = 0
    skipped: int = 0
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def matches(self, network: str, method: str, path: str) -> bool:
        spec = self.spec
        if spec.network is not None and spec.network != network:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.pattern is None:
            return True
        local = path[len(network) + 1 :]
        if "*" in self.pattern or "?" in self.pattern:
            return fnmatch.fnmatchcase(path, self.pattern) or fnmatch.fnmatchcase(
                local, self.pattern
            )
        return self.pattern in path

    def exhausted(self) -> bool:
        return self.spec.count is not None and self.fired >= self.spec.count


class Faults:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.rules: list[Rule] = []
        self.random = random.Random(settings.seed)

    def set(self, specs: list[FaultSpec]) -> None:
        rules = []
        for spec in specs:
            method = None
            pattern = spec.endpoint
            if pattern:
                head, _, rest = pattern.partition(" ")
                if rest and head.isupper():
                    method, pattern = head, rest.strip()
            rules.append(Rule(spec=spec, method=method, pattern=pattern or None))
        self.rules = rules

    def clear(self) -> None:
        self.rules = []

    def describe(self) -> list[dict[str, Any]]:
        return [{**r.spec.model_dump(), "fired": r.fired} for r in self.rules]


class FaultMiddleware:
    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.faults.rules:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        network = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        if network not in NETWORKS:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        rules = [
            r
            for r in self.faults.rules
            if not r.exhausted() and r.matches(network, method, path)
        ]
        if not rules:
            await self.app(scope, receive, send)
            return
        await self._apply(rules, network, scope, receive, send)

    async def _apply(
        self, rules: list[Rule], network: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        rnd = self.faults.random
        latency = max(r.spec.latency_ms for r in rules)
        if latency:
            await asyncio.sleep(latency / 1000)
        extra_headers: dict[str, str] = {}
        for rule in rules:
            rl = rule.spec.rate_limit
            if rl is None:
                continue
            key = _caller(scope)
            now = time.time()
            start, used = rule.windows.get(key, (now, 0))
            if now - start >= rl.window_seconds:
                start, used = now, 0
            reset_at = start + rl.window_seconds
            if used >= rl.limit:
                rule.fired += 1
                err = errors.rate_limited(network, rl.limit, reset_at, rl.status)
                await _send_error(err, scope, receive, send)
                return
            rule.windows[key] = (start, used + 1)
            extra_headers.update(errors.rate_headers(network, rl.limit, rl.limit - used - 1,
                                                     reset_at))
        for rule in rules:
            spec = rule.spec
            if rule.skipped < spec.skip:
                rule.skipped += 1
                continue
            hang = spec.timeout_rate > 0 and rnd.random() < spec.timeout_rate
            fail = not hang and spec.error_rate > 0 and rnd.random() < spec.error_rate
            if not (hang or fail):
                continue
            rule.fired += 1
            if spec.phase == "after":
                await self.app(scope, receive, _discard)
            if hang:
                await _hang(receive, self.faults.settings.fault_hang_seconds)
                err = errors.server_error(network, 504)
            elif spec.status == 429:
                err = errors.rate_limited(network, 1, time.time() + 60, 429)
            else:
                err = errors.server_error(network, spec.status)
            await _send_error(err, scope, receive, send)
            return
        if extra_headers:
            send = _with_headers(send, extra_headers)
        await self.app(scope, receive, send)


def _caller(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return "app"


async def _discard(message: Message) -> None:
    return None


async def _hang(receive: Receive, seconds: float) -> None:
    async def until_disconnect() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(until_disconnect(), timeout=seconds)


async def _send_error(err: NetError, scope: Scope, receive: Receive, send: Send) -> None:
    await err.response()(scope, receive, send)


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *raw]}
        await send(message)

    return wrapped
