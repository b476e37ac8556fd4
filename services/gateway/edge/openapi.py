"""One OpenAPI document for the whole platform, merged from every service's own.

Each service describes its endpoints; the gateway keeps every path a client can reach through
it (the route table decides which service a path belongs to; a documented path the table
sends elsewhere stops the build with `UnroutablePaths`), merges the components, renames a
component two services define differently (`Metrics` + name) and rewrites the references to it,
and adds the security schemes and the problem+json error shape.

`python -m services.gateway.openapi_cli` writes it to a file (`make openapi`, `make client`).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.gateway.edge.routes import resolve
from services.gateway.settings import GatewaySettings
from services.gateway.webhooks.events import openapi_webhooks
from shared.auth import INTERNAL_TOKEN_HEADER

log = logging.getLogger(__name__)

Document = dict[str, Any]

# The public API as a whole: the merged document's title and description.
TITLE = "Herald API"
DESCRIPTION = (
    "Plan, publish, answer and measure across the social networks. Every `/v1` call takes "
    "`Authorization: Bearer <api key>`; errors are RFC 9457 problem+json.\n\n"
    "**Conventions.** Lists take `limit` and `cursor` and answer `next_cursor`, with a "
    '`Link: <…>; rel="next"` header while there is more. Resources answer with an `ETag`; '
    "`PUT`, `PATCH` and `DELETE` with a stale `If-Match` are refused (412; a post's version "
    "conflict is 409). Every response carries `X-Request-Id` (the one you sent, or a new one) "
    "and, on `/v1`, `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`. "
    "Timestamps are RFC 3339, in UTC. `Idempotency-Key` on a POST makes retries safe; it "
    "belongs to the API key that sent it. An answer that carries a secret shown once (a new "
    "API key, an invitation token, a webhook secret; marked `Cache-Control: no-store`) is "
    "never kept, so its retry gets a 409 naming the `resource_id` it created instead of the "
    "secret. Request bodies are limited in size (413).\n\n"
    "**Roles.** A key has one role: `owner`, `admin`, `editor`, `reviewer` or `analyst`. "
    "What each role may do is one table, published as `docs/roles.md` (generated from the "
    "code every service enforces); nobody grants a role above their own.\n\n"
    "**Client webhooks.** Subscribe with `POST /v1/webhooks`; the payloads are in the "
    "`webhooks` section. Deliveries are signed per the Standard Webhooks spec and retried "
    "after 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h (18 attempts over about 5 days); a "
    "subscription that fails for 5 days is disabled until re-enabled with PATCH.\n\n"
    "**Agents.** `/mcp` is a Model Context Protocol server (streamable HTTP, stateless, "
    "JSON answers) taking the same API key as bearer token: tools to list channels, validate "
    "and schedule posts, find posts, read the calendar, list and answer conversations, read "
    "analytics and best times, each one call of this API with the key's role."
)

SECURITY_SCHEMES: dict[str, Any] = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A workspace API key (`hk_live_…`): `Authorization: Bearer <key>`.",
    },
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The platform operator's token (HERALD_ADMIN_TOKEN).",
    },
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An RFC 9457 problem detail.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string", "description": "The offending field, for bad input."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
    "required": ["type", "title", "status"],
}

REFRESH_FLOOR_SECONDS = 2.0

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class UnroutablePaths(RuntimeError):
    """A service documents paths the gateway's route table does not send to it.

    Such a path cannot be called through the gateway; the merged document refuses to be built
    rather than leave it out quietly. Fix the route table (`routes.py`) or the service.
    """

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        super().__init__("paths not routed to the service that documents them: " + ", ".join(paths))


def _rewrite_refs(node: Any, section: str, renames: dict[str, str]) -> Any:
    prefix = f"#/components/{section}/"
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(prefix):
                name = value[len(prefix) :]
                out[key] = prefix + renames.get(name, name)
            else:
                out[key] = _rewrite_refs(value, section, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, section, renames) for item in node]
    return node


def _rewrite_all(node: Any, renames: dict[str, dict[str, str]]) -> Any:
    for section, names in renames.items():
        if names:
            node = _rewrite_refs(node, section, names)
    return node


def _refs(node: Any, found: set[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            section, _, name = ref[len("#/components/") :].partition("/")
            found.add((section, name))
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)


def _reachable(
    paths: dict[str, Any], components: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The components the kept paths use, directly or through other components."""
    todo: set[tuple[str, str]] = set()
    _refs(paths, todo)
    kept: set[tuple[str, str]] = set()
    while todo:
        section, name = todo.pop()
        if (section, name) in kept or name not in components.get(section, {}):
            continue
        kept.add((section, name))
        _refs(components[section][name], todo)
    out: dict[str, dict[str, Any]] = {}
    for section, entries in components.items():
        if section == "securitySchemes":
            continue  # the gateway states how clients authenticate, not the services
        out[section] = {n: v for n, v in entries.items() if (section, n) in kept}
    return out


def _prefixed(service: str, name: str, taken: dict[str, Any]) -> str:
    base = service[:1].upper() + service[1:] + name
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    return candidate


def merge_documents(*, own: Document, services: dict[str, Document]) -> Document:
    """Merges `services` (by service name) into a copy of the gateway's own document."""
    merged = copy.deepcopy(own)
    merged["openapi"] = own.get("openapi", "3.1.0")
    paths: dict[str, Any] = merged.setdefault("paths", {})
    components: dict[str, dict[str, Any]] = merged.setdefault("components", {})
    tags = {t["name"]: t for t in merged.get("tags", [])}
    operation_ids = {
        op.get("operationId")
        for item in paths.values()
        for method, op in item.items()
        if method in HTTP_METHODS and isinstance(op, dict)
    }
    _check_routable(services)
    for service, doc in sorted(services.items()):
        doc = copy.deepcopy(doc)
        kept_paths: dict[str, Any] = dict(doc.get("paths", {}))
        theirs = _reachable(kept_paths, doc.get("components", {}))
        renames = _renames(service, theirs, components)
        for section, entries in _rewrite_all(theirs, renames).items():
            target = components.setdefault(section, {})
            for name, value in entries.items():
                target[renames[section].get(name, name)] = value
        for path, item in kept_paths.items():
            item = _rewrite_all(item, renames)
            _adopt_operations(service, path, item, operation_ids)
            paths.setdefault(path, {}).update(item)
        for tag in doc.get("tags", []):
            tags.setdefault(tag["name"], tag)
    components.setdefault("schemas", {}).setdefault("Problem", PROBLEM_SCHEMA)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    _add_problem_responses(paths)
    _drop_unused_components(merged)
    merged["security"] = [{"apiKey": []}]
    if tags:
        merged["tags"] = sorted(tags.values(), key=lambda t: t["name"])
    merged["paths"] = dict(sorted(paths.items()))
    return merged


def _check_routable(services: dict[str, Document]) -> None:
    unroutable = [
        f"{service}:{path} (routed to {route.service if route else 'nothing'})"
        for service, doc in sorted(services.items())
        for path in doc.get("paths", {})
        if (route := resolve(path)) is None or route.service != service
    ]
    if unroutable:
        raise UnroutablePaths(unroutable)


def _renames(
    service: str, theirs: dict[str, Any], components: dict[str, dict[str, Any]]
) -> dict[str, dict[str, str]]:
    """New names for `service`'s components that differ from same-named ones already merged.

    Renaming changes the references inside other components, which may make them differ in
    turn: repeat until nothing new needs a name of its own.
    """
    renames: dict[str, dict[str, str]] = {section: {} for section in theirs}
    changed = True
    while changed:
        changed = False
        for section, entries in _rewrite_all(theirs, renames).items():
            existing = components.get(section, {})
            for name, value in entries.items():
                if name in renames[section] or name not in existing or existing[name] == value:
                    continue
                renames[section][name] = _prefixed(service, name, {**existing, **entries})
                changed = True
    return renames


def _adopt_operations(
    service: str, path: str, item: dict[str, Any], operation_ids: set[Any]
) -> None:
    """Unique operation ids, and the security the route table gives the path."""
    route = resolve(path)
    assert route is not None
    for method, op in item.items():
        if method not in HTTP_METHODS or not isinstance(op, dict):
            continue
        op_id = op.get("operationId")
        if op_id in operation_ids:
            op["operationId"] = f"{service}_{op_id}"
        operation_ids.add(op.get("operationId"))
        if route.auth == "none":
            op["security"] = []
        elif route.auth == "optional":
            op["security"] = [{"apiKey": []}, {}]


def _add_problem_responses(paths: dict[str, Any]) -> None:
    """Every error as it is really sent: problem+json, validation errors included.

    FastAPI documents its own `HTTPValidationError` shape for 422, which no service sends
    (shared.errors renders every validation error as a problem with `field` and `errors`); a
    redirect has no JSON body, only a `Location`.
    """
    problem = {
        "description": "An error, as RFC 9457 problem+json.",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    invalid = {
        "description": "The request is not valid: `field` names the first offending field, "
        "`errors` lists them all.",
        "content": problem["content"],
    }
    for item in paths.values():
        for method, op in item.items():
            if method not in HTTP_METHODS or not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            responses.setdefault("default", problem)
            if "422" in responses:
                responses["422"] = copy.deepcopy(invalid)
            for status, response in responses.items():
                if status.startswith("3") and isinstance(response, dict):
                    response.pop("content", None)
                    response.setdefault(
                        "headers",
                        {"Location": {"description": "Where to go.", "schema": {"type": "string"}}},
                    )


def _drop_unused_components(doc: Document) -> None:
    """Components no path, webhook or other kept component refers to (e.g. the replaced
    `HTTPValidationError`)."""
    components = doc.get("components", {})
    roots = {"paths": doc.get("paths", {}), "webhooks": doc.get("webhooks", {})}
    kept = _reachable(roots, components)
    for section, entries in components.items():
        if section in ("securitySchemes",):
            continue
        for name in list(entries):
            if name not in kept.get(section, {}):
                del entries[name]


async def fetch_documents(
    client: httpx.AsyncClient, *, upstreams: dict[str, str], internal_token: str, per_service: float
) -> tuple[dict[str, Document], list[str]]:
    """Every reachable service's document, and the names of those that did not answer."""

    async def one(service: str, base: str) -> tuple[str, Document | None]:
        try:
            response = await client.get(
                f"{base}/openapi.json",
                headers={INTERNAL_TOKEN_HEADER: internal_token},
                timeout=per_service,
            )
            response.raise_for_status()
            return service, response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("openapi of %s unavailable: %r", service, exc)
            return service, None

    results = await asyncio.gather(*(one(s, u) for s, u in upstreams.items()))
    docs = {service: doc for service, doc in results if doc is not None}
    missing = [service for service, doc in results if doc is None]
    return docs, missing


class MergedOpenApi:
    """The merged document, rebuilt when older than `ttl` (sooner while a service is missing)."""

    def __init__(
        self,
        *,
        own: Callable[[], Document],
        upstreams: dict[str, str],
        internal_token: str,
        ttl: float,
        fetch_timeout: float,
    ) -> None:
        self.own = own
        self.upstreams = upstreams
        self.internal_token = internal_token
        self.ttl = ttl
        self.fetch_timeout = fetch_timeout
        self._doc: Document | None = None
        self._expires = 0.0
        self._built = 0.0
        self._lock = asyncio.Lock()

    async def document(self, client: httpx.AsyncClient, *, refresh: bool = False) -> Document:
        # Anyone may ask for a refresh; at most one rebuild every few seconds keeps that cheap.
        if refresh and time.monotonic() - self._built < REFRESH_FLOOR_SECONDS:
            refresh = False
        if self._doc is not None and not refresh and time.monotonic() < self._expires:
            return self._doc
        async with self._lock:
            # Whoever waited on the lock finds the document another request just built.
            if self._doc is not None and time.monotonic() < self._expires and not refresh:
                return self._doc
            docs, missing = await fetch_documents(
                client,
                upstreams=self.upstreams,
                internal_token=self.internal_token,
                per_service=self.fetch_timeout,
            )
            doc = merge_documents(own=self.own(), services=docs)
            if missing:
                doc["x-herald-unavailable-services"] = missing
            self._doc = doc
            self._built = time.monotonic()
            self._expires = time.monotonic() + (min(self.ttl, 10.0) if missing else self.ttl)
            return doc


def gateway_document(app: FastAPI) -> Document:
    """The gateway's own part: its routes, and the client webhooks' payloads."""
    doc = get_openapi(title=TITLE, version=app.version, description=DESCRIPTION, routes=app.routes)
    hooks, schemas = openapi_webhooks()
    doc["webhooks"] = hooks
    doc.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    return doc


def merged_openapi(app: FastAPI, settings: GatewaySettings) -> MergedOpenApi:
    return MergedOpenApi(
        own=lambda: gateway_document(app),
        upstreams=settings.upstreams(),
        internal_token=settings.internal_token,
        ttl=settings.openapi_cache_seconds,
        fetch_timeout=settings.openapi_fetch_timeout,
    )
