"""Prometheus metrics, request ids and the health endpoints every service answers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PROBLEM_JSON
from shared.logs import correlation_id_var, request_id_var, traceparent_var

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class ServiceMetrics:
    """One registry per app, so several apps can live in one test process."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "herald_http_request_seconds",
            "HTTP request latency by route and status",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.consumed = Counter(
            "herald_messages_consumed_total",
            "Bus messages consumed, by consumer and outcome",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "herald_outbox_backlog", "Outbox rows not yet published", registry=self.registry
        )
        self.outbox_published = Counter(
            "herald_outbox_published_total", "Events published from the outbox",
            registry=self.registry,
        )

    def histogram(self, name: str, doc: str, labels: list[str] | None = None) -> Histogram:
        return Histogram(
            name, doc, labels or [], registry=self.registry, buckets=LATENCY_BUCKETS
        )

    def counter(self, name: str, doc: str, labels: list[str] | None = None) -> Counter:
        return Counter(name, doc, labels or [], registry=self.registry)

    def gauge(self, name: str, doc: str, labels: list[str] | None = None) -> Gauge:
        return Gauge(name, doc, labels or [], registry=self.registry)


def new_traceparent() -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


class RequestContextMiddleware:
    """Accepts or generates `X-Request-Id`, echoes it, and times every request."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        traceparent = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:200]
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")[:200]
        request_id = request_id or uuid.uuid4().hex
        # Every request belongs to a trace: a caller's W3C traceparent is kept, otherwise one
        # starts here; it rides on every event the request causes, so one post can be
        # followed through every service's logs.
        traceparent = traceparent or new_traceparent()
        request_id_var.set(request_id)
        correlation_id_var.set(request_id)
        traceparent_var.set(traceparent)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], path, str(status)).observe(
                time.perf_counter() - started
            )


def health_router(
    *, metrics: ServiceMetrics, checks: Callable[[], Awaitable[dict[str, bool]]]
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> Response:
        results = await checks()
        if all(results.values()):
            return Response(
                content=b'{"status":"ready"}', media_type="application/json", status_code=200
            )
        failing = ", ".join(name for name, ok in results.items() if not ok)

        body = {
            "type": "https://herald.dev/problems/unavailable",
            "title": "Not ready",
            "status": 503,
            "detail": f"Unreachable: {failing}",
            "checks": results,
        }
        return Response(content=json.dumps(body), media_type=PROBLEM_JSON, status_code=503)

    @router.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def mount_observability(app: FastAPI, metrics: ServiceMetrics) -> None:
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
