"""Every event a client can subscribe to is documented in the merged OpenAPI's `webhooks`
section with a JSON schema of its payload, generated from the event models."""

from openapi_spec_validator import validate

from services.gateway.edge.openapi import merge_documents
from services.gateway.webhooks.events import (
    INTERNAL_EVENTS,
    PUBLIC_EVENTS,
    TEST_EVENT,
    event_model,
    openapi_webhooks,
)
from shared.events import REGISTRY

# What a frontend is promised (the post, channel, inbox, alert, queue, report and contest
# lifecycles); the catalogue may offer more, never less.
PROMISED = {
    "post.scheduled",
    "post.rescheduled",
    "post.edited",
    "post.published",
    "post.publish_failed",
    "post.missed",
    "post.canceled",
    "post.approved",
    "post.rejected",
    "channel.connected",
    "channel.updated",
    "channel.needs_reauth",
    "channel.disconnected",
    "conversation.opened",
    "message.received",
    "conversation.assigned",
    "conversation.replied",
    "conversation.resolved",
    "alert.raised",
    "alert.resolved",
    "queue.frozen",
    "queue.resumed",
    "report.ready",
    "contest.closed",
    "contest.drawn",
}


def resolve(doc: dict, ref: str) -> dict:
    node = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_event_of_the_catalogue_is_either_public_or_internal():
    registered = {event_type for event_type, _ in REGISTRY}
    assert not set(PUBLIC_EVENTS) & set(INTERNAL_EVENTS)
    assert registered == set(PUBLIC_EVENTS) | set(INTERNAL_EVENTS), (
        "classify new events in services/gateway/webhooks/events.py: "
        f"{sorted(registered ^ (set(PUBLIC_EVENTS) | set(INTERNAL_EVENTS)))}"
    )
    assert set(PUBLIC_EVENTS) >= PROMISED


def test_every_public_event_is_under_webhooks_with_its_payload_schema():
    hooks, schemas = openapi_webhooks()
    own = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "webhooks": hooks,
        "components": {"schemas": schemas},
    }
    doc = merge_documents(own=own, services={})
    validate(doc)
    assert set(doc["webhooks"]) == set(PUBLIC_EVENTS) | {TEST_EVENT}
    for event_type in PUBLIC_EVENTS:
        operation = doc["webhooks"][event_type]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        payload = resolve(doc, body["$ref"])
        assert payload["properties"]["type"] == {"type": "string", "const": event_type}
        assert set(payload["required"]) == {"id", "type", "timestamp", "workspace_id", "data"}
        data = resolve(doc, payload["properties"]["data"]["$ref"])
        # The data schema is the event model's, field for field.
        fields = set(event_model(event_type).model_fields)
        assert set(data["properties"]) == fields, event_type
        assert data["type"] == "object"
        assert {"webhook-id", "webhook-signature", "webhook-timestamp"} == {
            p["name"] for p in operation["parameters"]
        }
