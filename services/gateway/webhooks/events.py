"""The events a client may subscribe to, and how their webhook payloads are documented.

Only facts a customer cares about are public; the commands and internal traffic between
services (`post.due`, `inbox.fetch`, `metrics.collect`, …) never leave the platform.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.events.envelope import REGISTRY, EventData

PUBLIC_EVENTS: tuple[str, ...] = (
    "campaign.created",
    "campaign.updated",
    "post.scheduled",
    "post.rescheduled",
    "post.edited",
    "post.published",
    "post.publish_failed",
    "post.retrying",
    "post.partially_failed",
    "post.failed",
    "post.missed",
    "post.edited",
    "post.deleted",
    "post.canceled",
    "post.approved",
    "post.rejected",
    "conversation.opened",
    "message.received",
    "conversation.assigned",
    "conversation.replied",
    "conversation.resolved",
    "conversation.sla_breached",
    "crisis.detected",
    "crisis.resolved",
    "contest.closed",
    "contest.drawn",
    "alert.raised",
    "alert.resolved",
    "queue.frozen",
    "queue.resumed",
    "channel.connected",
    "channel.updated",
    "channel.needs_reauth",
    "channel.disconnected",
    "channel.expiring",
    "channel.subscription_changed",
    "comment.moderated",
    "best_times.updated",
    "report.ready",
)
# Commands and traffic between services, never sent to clients. Every event of the catalogue
# is in exactly one of the two lists (a test checks it), so a new event is a decision.
INTERNAL_EVENTS: tuple[str, ...] = (
    "workspace.created",
    # Who is in a workspace: the inbox assigns conversations only to its members.
    "member.added",
    "member.removed",
    # Which campaign a post is in: metrics keeps its read model from it.
    "post.campaign_set",
    "post.due",
    "reply.requested",
    "reply.sent",
    "reply.failed",
    "comment.moderation_requested",
    "inbox.fetch",
    "inbox.fetched",
    "queue.freeze_requested",
    "metrics.collect",
    "metrics.fetched",
    # A published post changed or removed on its network: the scheduler asks, the publisher
    # answers; clients hear the outcome as the post's own events.
    "target.edit_requested",
    "target.delete_requested",
    "target.changed",
    # Kept by the gateway and read with GET /v1/audit (docs/audit.md).
    "audit.recorded",
)
# Sent only by `POST /v1/webhooks/{id}/test`, whatever the subscription's events.
TEST_EVENT = "webhook.test"
ALL_EVENTS = "*"


class WebhookTestData(BaseModel):
    """A ping sent on request, to check an endpoint and its signature verification."""

    subscription_id: str
    message: str


def event_model(event_type: str) -> type[EventData]:
    versions = [v for (t, v) in REGISTRY if t == event_type]
    return REGISTRY[(event_type, max(versions))]


def _component(name: str) -> str:
    return f"WebhookEvent{name}"


RETRY_SCHEDULE_TEXT = (
    "A delivery succeeds when the endpoint answers 2xx within the timeout. Otherwise it is "
    "retried after 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h (18 attempts over about "
    "5 days; GATEWAY_WEBHOOK_RETRY_SCHEDULE_SECONDS). A subscription whose every attempt "
    "failed for 5 days (GATEWAY_WEBHOOK_DISABLE_AFTER_HOURS) is disabled, with the reason in "
    '`disabled_reason`; `PATCH {"enabled": true}` turns it back on.'
)

SIGNATURE_TEXT = (
    "Signed per the Standard Webhooks specification: headers `webhook-id` (the event id, the "
    "same on every retry and replay), `webhook-timestamp` (Unix seconds) and "
    '`webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the '
    "base64-decoded part of the `whsec_` secret; two space-separated signatures while a "
    "rotated-out secret is still in its overlap window)."
)


def openapi_webhooks() -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI 3.1 `webhooks` section and the component schemas it refers to."""
    models: list[tuple[str, type[BaseModel]]] = [(t, event_model(t)) for t in PUBLIC_EVENTS] + [
        (TEST_EVENT, WebhookTestData)
    ]
    _, top = models_json_schema(
        [(m, "serialization") for _, m in models],
        ref_template="#/components/schemas/WebhookEvent{model}",
    )
    schemas: dict[str, Any] = {
        _component(name): schema for name, schema in top.get("$defs", {}).items()
    }
    webhooks: dict[str, Any] = {}
    for event_type, model in models:
        payload_name = "Webhook" + "".join(
            part.capitalize() for part in event_type.replace(".", "_").split("_")
        )
        schemas[payload_name] = {
            "title": payload_name,
            "type": "object",
            "description": (model.__doc__ or "").strip().splitlines()[0],
            "properties": {
                "id": {"type": "string", "format": "uuid", "description": "The event id."},
                "type": {"type": "string", "const": event_type},
                "timestamp": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When it happened (RFC 3339, UTC).",
                },
                "workspace_id": {"type": "string", "format": "uuid"},
                "data": {"$ref": f"#/components/schemas/{_component(model.__name__)}"},
            },
            "required": ["id", "type", "timestamp", "workspace_id", "data"],
        }
        webhooks[event_type] = {
            "post": {
                "summary": f"{event_type}: " + (model.__doc__ or "").strip().splitlines()[0],
                "description": SIGNATURE_TEXT + " " + RETRY_SCHEDULE_TEXT,
                "operationId": "webhook_" + event_type.replace(".", "_"),
                "tags": ["webhook payloads"],
                "parameters": [
                    {
                        "name": "webhook-id",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "webhook-timestamp",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "webhook-signature",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{payload_name}"}
                        }
                    },
                },
                "responses": {
                    "2XX": {"description": "Received. Any other answer (or none) is retried."}
                },
            }
        }
    return webhooks, schemas
