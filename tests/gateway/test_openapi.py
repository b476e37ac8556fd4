import asyncio
import json

import httpx
import pytest
from openapi_spec_validator import validate

from services.gateway.edge.openapi import UnroutablePaths, merge_documents
from services.gateway.edge.routes import resolve
from services.metrics.app import create_app as create_metrics
from services.metrics.settings import MetricsSettings
from tests.conftest import INTERNAL_TOKEN
from tests.gateway.support import echo_upstreams, running_gateway
from tests.support.servers import free_port, serve

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def resolve_ref(doc: dict, ref: str) -> dict:
    node = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


async def service_doc(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        r = await client.get(
            f"{url}/openapi.json", headers={"x-herald-internal-token": INTERNAL_TOKEN}
        )
        r.raise_for_status()
        return r.json()


async def test_merged_openapi_is_valid_and_loses_no_path(make_settings):
    metrics = create_metrics(make_settings(MetricsSettings, run_workers=False))
    async with (
        serve(metrics) as metrics_url,
        echo_upstreams("scheduler", "publisher", "inbox") as ups,
        running_gateway(
            make_settings,
            run_workers=False,
            metrics_url=metrics_url,
            **{f"{n}_url": u for n, (_, u) in ups.items()},
        ) as gw,
    ):
        r = await gw.client.get("/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        validate(doc)
        assert "x-herald-unavailable-services" not in doc

        # Every routable path of every service is there, with all its methods.
        sources = {"metrics": await service_doc(metrics_url)}
        for name, (_, url) in ups.items():
            sources[name] = await service_doc(url)
        expected = 0
        for service, source in sources.items():
            for path, item in source["paths"].items():
                route = resolve(path)
                if route is None or route.service != service:
                    continue
                expected += 1
                assert path in doc["paths"], path
                assert set(item) & METHODS <= set(doc["paths"][path]), path
        assert expected >= 3
        for own in ("/v1/workspaces", "/v1/api-keys", "/v1/api-keys/{key_id}"):
            assert own in doc["paths"]

        # Two services' different `TrackedTarget`s both survive, each where it is used.
        analytics = doc["paths"]["/v1/analytics/posts/{post_id}"]["get"]
        post_ref = analytics["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        metrics_target = resolve_ref(doc, post_ref)["properties"]["targets"]["items"]["$ref"]
        echo_item = doc["paths"]["/v1/posts/items/{item_id}"]["get"]
        echo_target = echo_item["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert metrics_target != echo_target
        assert "external_id" in resolve_ref(doc, metrics_target)["properties"]
        assert "echo" in resolve_ref(doc, echo_target)["properties"]

        # Security: keys everywhere, the admin token for workspaces, nothing for public paths.
        assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
        assert doc["security"] == [{"apiKey": []}]
        assert doc["paths"]["/v1/workspaces"]["post"]["security"] == [{"adminToken": []}]
        problem = doc["paths"]["/v1/api-keys"]["post"]["responses"]["default"]
        assert "application/problem+json" in problem["content"]

        docs = await gw.client.get("/docs")
        assert docs.status_code == 200 and "/openapi.json" in docs.text


async def test_merged_openapi_survives_a_missing_service_and_refreshes(make_settings):
    metrics = create_metrics(make_settings(MetricsSettings, run_workers=False))
    metrics_port = free_port()
    async with running_gateway(
        make_settings,
        run_workers=False,
        metrics_url=f"http://127.0.0.1:{metrics_port}",
        openapi_fetch_timeout=1.0,
    ) as gw:
        first = (await gw.client.get("/openapi.json")).json()
        validate(first)
        assert "metrics" in first["x-herald-unavailable-services"]
        assert "/v1/analytics/posts/{post_id}" not in first["paths"]
        async with serve(metrics, port=metrics_port):
            gw.app.state.openapi._built = 0.0  # noqa: SLF001  (skip the refresh floor)
            second = (await gw.client.get("/openapi.json", params={"refresh": "true"})).json()
        assert "/v1/analytics/posts/{post_id}" in second["paths"]
        assert "metrics" not in second.get("x-herald-unavailable-services", [])


def test_component_renames_follow_references_into_other_components():
    own = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}

    def service(field: str) -> dict:
        return {
            "paths": {
                f"/v1/{'posts' if field == 'a' else 'links'}": {
                    "get": {
                        "operationId": "list",
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {
                                    "application/json": {
                                        "schema": {"$ref": "#/components/schemas/Page"}
                                    }
                                },
                            }
                        },
                    }
                }
            },
            "components": {
                "schemas": {
                    "Page": {
                        "type": "object",
                        "properties": {
                            "items": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Item"},
                            }
                        },
                    },
                    "Item": {"type": "object", "properties": {field: {"type": "string"}}},
                    "Unused": {"type": "object"},
                }
            },
        }

    merged = merge_documents(own=own, services={"metrics": service("b"), "scheduler": service("a")})
    validate(merged)
    schemas = merged["components"]["schemas"]
    # `Item` differs, so `Page` (which points at it) differs too once rewritten.
    assert {"Item", "Page", "SchedulerItem", "SchedulerPage"} <= set(schemas)
    assert "Unused" not in schemas
    assert schemas["SchedulerPage"]["properties"]["items"]["items"]["$ref"] == (
        "#/components/schemas/SchedulerItem"
    )
    op_ids = [op["operationId"] for item in merged["paths"].values() for op in item.values()]
    assert len(op_ids) == len(set(op_ids))
    json.dumps(merged)


async def test_make_openapi_writes_the_merged_document(make_settings, monkeypatch, tmp_path):
    from services.gateway.openapi_cli import write_merged

    metrics = create_metrics(make_settings(MetricsSettings, run_workers=False))
    async with serve(metrics) as metrics_url, echo_upstreams("scheduler") as ups:
        dead = f"http://127.0.0.1:{free_port()}"
        monkeypatch.setenv("GATEWAY_INTERNAL_TOKEN", INTERNAL_TOKEN)
        monkeypatch.setenv("GATEWAY_METRICS_URL", metrics_url)
        monkeypatch.setenv("GATEWAY_SCHEDULER_URL", ups["scheduler"][1])
        monkeypatch.setenv("GATEWAY_PUBLISHER_URL", dead)
        monkeypatch.setenv("GATEWAY_INBOX_URL", dead)
        target = tmp_path / "docs" / "openapi.json"
        # `make openapi` runs it as its own program, with its own event loop.
        doc = await asyncio.to_thread(write_merged, target)
    written = json.loads(target.read_text())
    assert written == doc
    validate(written)
    assert "/v1/analytics/posts/{post_id}" in written["paths"]
    assert "/v1/posts/items/{item_id}" in written["paths"]
    assert sorted(written["x-herald-unavailable-services"]) == ["inbox", "publisher"]


def test_a_service_path_the_gateway_cannot_route_stops_the_build():
    own = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    ok = {"get": {"operationId": "q", "responses": {"200": {"description": "ok"}}}}
    # The scheduler's queue under /v1/channels/{id} routes to it; /v1/channels itself does not.
    merged = merge_documents(
        own=own, services={"scheduler": {"paths": {"/v1/channels/{channel_id}/queue": ok}}}
    )
    assert "/v1/channels/{channel_id}/queue" in merged["paths"]
    with pytest.raises(UnroutablePaths) as refused:
        merge_documents(
            own=own,
            services={
                "scheduler": {"paths": {"/v1/channels": ok, "/v1/nowhere": ok}},
                "metrics": {"paths": {"/v1/links": ok}},
            },
        )
    assert refused.value.paths == [
        "scheduler:/v1/channels (routed to publisher)",
        "scheduler:/v1/nowhere (routed to nothing)",
    ]


def test_every_path_every_service_documents_routes_to_that_service():
    from services.inbox.app import create_app as create_inbox
    from services.publisher.app import create_app as create_publisher
    from services.scheduler.app import create_app as create_scheduler

    apps = {
        "scheduler": create_scheduler(),
        "publisher": create_publisher(),
        "inbox": create_inbox(),
        "metrics": create_metrics(),
    }
    documents = {name: app.openapi() for name, app in apps.items()}
    own = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    merged = merge_documents(own=own, services=documents)
    for service, doc in documents.items():
        for path in doc["paths"]:
            assert resolve(path).service == service, path
            assert path in merged["paths"]
    assert "/v1/channels/{channel_id}/queue/shuffle" in merged["paths"]
