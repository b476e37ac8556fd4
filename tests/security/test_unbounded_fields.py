"""Free text and lists without a size: one request could store megabytes per field, or reach
the database with a value longer than its column (a 500).

Every string, list and map a client sends in a request body is bounded in every service's
schema (the OpenAPI says so), consistently with the networks' limits and the columns; beyond
a bound the answer is a 422 naming the field, and nothing is stored.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.gateway.app import create_app as create_gateway
from services.gateway.settings import GatewaySettings
from services.inbox.app import create_app as create_inbox
from services.inbox.settings import InboxSettings
from services.metrics.app import create_app as create_metrics
from services.metrics.settings import MetricsSettings
from services.publisher.app import create_app as create_publisher
from services.publisher.settings import PublisherSettings
from services.scheduler.app import create_app as create_scheduler
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.security.edge import bearer, gateway_url, new_workspace

APPS = {
    "gateway": (create_gateway, GatewaySettings),
    "scheduler": (create_scheduler, SchedulerSettings),
    "publisher": (create_publisher, PublisherSettings),
    "inbox": (create_inbox, InboxSettings),
    "metrics": (create_metrics, MetricsSettings),
}
# Bodies read as raw bytes and bounded by their own cap (the CSV import: test_request_size).
RAW_BODIES = {("post", "/v1/posts/import")}
BOUNDED_FORMATS = {"uuid", "date-time", "date", "time", "binary", "uri"}


def unbounded(doc: dict[str, Any]) -> list[str]:
    """Every string, array and map in a request body of `doc` with no upper bound."""
    components = doc.get("components", {}).get("schemas", {})
    found: list[str] = []
    seen: set[str] = set()

    def walk(schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(components[name], name)
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key, []):
                walk(sub, where)
        kind = schema.get("type")
        if kind == "string" and not ({"enum", "const", "maxLength"} & schema.keys()):
            if schema.get("format") not in BOUNDED_FORMATS:
                found.append(where)
        elif kind == "array":
            if "maxItems" not in schema:
                found.append(where)
            walk(schema.get("items", {}), where + "[]")
        elif kind == "object":
            for name, sub in schema.get("properties", {}).items():
                walk(sub, f"{where}.{name}")
            extra = schema.get("additionalProperties", not schema.get("properties"))
            if extra is not False and "maxProperties" not in schema:
                found.append(where + "{}")
            if isinstance(extra, dict):
                walk(extra, where + "{}")
            names = schema.get("propertyNames")
            if isinstance(extra, dict | bool) and extra and names is not None:
                walk(names, where + "{keys}")

    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or (method, path) in RAW_BODIES:
                continue
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema", {}), f"{method.upper()} {path}")
    return found


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_request_field_is_bounded(service: str) -> None:
    create, settings = APPS[service]
    app = create(settings(environment="test", log_level="WARNING"))
    assert unbounded(app.openapi()) == []


def assert_refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, (field, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in r.json().get("errors", [])]
    assert field in fields, (field, fields)


def oversized_posts(target: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Posts each with one field beyond its bound, and the field the 422 must name."""
    at = "2030-01-01T09:00:00"
    return [
        # A tag longer than its VARCHAR(100).
        ({"text": "hi", "tags": ["t" * 101], "targets": [target]}, "tags[0]"),
        # A variant longer than any network takes.
        ({"text": "hi", "targets": [{**target, "text": "a" * 100_001}]}, "targets[0].text"),
        # Options: too many, then too large.
        (
            {"text": "hi", "targets": [{**target, "options": {f"o{n}": n for n in range(31)}}]},
            "targets[0].options",
        ),
        (
            {"text": "hi", "targets": [{**target, "options": {"thread": ["a" * 1000] * 70}}]},
            "targets[0].options",
        ),
        # Media per target, a time zone longer than its column.
        (
            {"text": "hi", "targets": [{**target, "media": [{"url": "https://e.com/a.jpg"}] * 41}]},
            "targets[0].media",
        ),
        (
            {"text": "hi", "targets": [target], "schedule": {"at": at, "timezone": "Z" * 65}},
            "schedule.timezone",
        ),
    ]


@pytest.mark.timeout(300)
async def test_oversized_fields_are_refused_naming_the_field(platform) -> None:  # noqa: ANN001
    async with httpx.AsyncClient(base_url=gateway_url(platform), timeout=60) as client:
        workspace = await new_workspace(client)
        key = bearer(workspace["api_key"])
        channel = str(uuid.uuid4())
        target = {"channel_id": channel}

        for body, field in oversized_posts(target):
            r = await client.post("/v1/posts", json=body, headers=key)
            assert_refused(r, field)
        # Slots and queue bodies.
        slots = [{"weekday": n % 7, "time": "09:00"} for n in range(1009)]
        r = await client.put(f"/v1/channels/{channel}/slots", json=slots, headers=key)
        assert r.status_code == 422, r.text[:300]
        # (The queue's order is the scheduler's; asked directly, as the gateway would.)
        order = [str(uuid.uuid4()) for _ in range(10_001)]
        r = await client.put(
            platform.config.url("scheduler") + f"/v1/channels/{channel}/queue",
            json=order,
            headers=identity(workspace["id"]),
        )
        assert r.status_code == 422, r.text[:300]
        r = await client.put(
            f"/v1/channels/{channel}/slots", json=[{"weekday": 0, "time": "9" * 6}], headers=key
        )
        assert_refused(r, "[0].time")
        # Channel credentials, link UTM parameters, conversion link codes, webhook events.
        r = await client.post(
            "/v1/channels",
            json={"network": "x", "credentials": {"token": "a" * 40_000}},
            headers=key,
        )
        assert_refused(r, "credentials")
        r = await client.post(
            "/v1/links",
            json={"url": "https://example.com", "utm": {f"k{n}": "v" for n in range(6)}},
            headers=key,
        )
        assert_refused(r, "utm")
        r = await client.post("/v1/conversions", json={"link_code": "c" * 21}, headers=key)
        assert_refused(r, "link_code")
        r = await client.post(
            "/v1/webhooks",
            json={"url": "https://example.com/h", "events": ["e" * 101]},
            headers=key,
        )
        assert_refused(r, "events[0]")

        # Nothing was stored.
        for path in ("/v1/links", "/v1/webhooks", "/v1/channels"):
            r = await client.get(path, headers=key)
            assert r.status_code == 200 and r.json()["items"] == [], (path, r.text[:300])
