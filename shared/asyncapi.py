"""Writes the AsyncAPI 3 document of Herald's bus from the event models.

python -m shared.asyncapi docs/asyncapi.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

import shared.events  # noqa: F401  (registers the catalogue)
from shared.events.envelope import REGISTRY, Envelope

# Who sends each event, from DESIGN.md §2; it documents the flows, it does not route them.
PRODUCERS = {
    "workspace.": "gateway",
    "post.due": "scheduler",
    "post.published": "publisher",
    "post.publish_failed": "publisher",
    "post.": "scheduler",
    "channel.": "publisher",
    "reply.requested": "inbox",
    "reply.": "publisher",
    "inbox.fetch": "inbox",
    "inbox.fetched": "publisher",
    "message.": "inbox",
    "conversation.": "inbox",
    "crisis.": "inbox",
    "alert.": "inbox",
    "queue.freeze_requested": "inbox",
    "queue.": "scheduler",
    "metrics.collect": "metrics",
    "metrics.fetched": "publisher",
    "best_times.": "metrics",
    "report.": "metrics",
    "comment.": "inbox",
    "contest.": "inbox",
    "campaign.": "scheduler",
    # A published post changed on its network: asked by the scheduler, done by the publisher.
    "target.changed": "publisher",
    "target.": "scheduler",
    # shared/audit.py: each service records its own changes; the gateway keeps them.
    "audit.": "each",
}


def _by(producer: str) -> str:
    return "each service" if producer == "each" else f"the {producer} service"


def producer_of(event_type: str) -> str:
    exact = PRODUCERS.get(event_type)
    if exact:
        return exact
    for prefix, service in PRODUCERS.items():
        if prefix.endswith(".") and event_type.startswith(prefix):
            return service
    return "unknown"


def _lift_defs(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    return schema


def document(exchange: str = "herald") -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    envelope = Envelope.model_json_schema(ref_template="#/components/schemas/{model}")
    _lift_defs(envelope, schemas)
    schemas["Envelope"] = envelope
    for (event_type, version), model in sorted(REGISTRY.items()):
        key = f"{event_type.replace('.', '_')}_v{version}"
        data = model.model_json_schema(ref_template="#/components/schemas/{model}")
        _lift_defs(data, schemas)
        schemas[model.__name__ + (f"V{version}" if version > 1 else "")] = data
        messages[key] = {
            "name": event_type,
            "title": f"{event_type} v{version}",
            "summary": model.summary,
            "contentType": "application/json",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event_type},
                            "version": {"const": version},
                            "data": {
                                "$ref": f"#/components/schemas/{model.__name__}"
                                + (f"V{version}" if version > 1 else "")
                            },
                        },
                    },
                ]
            },
        }
        channel = channels.setdefault(
            event_type.replace(".", "_"),
            {
                "address": event_type,
                "description": f"Routing key `{event_type}` on the `{exchange}` topic exchange.",
                "messages": {},
            },
        )
        channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}
    for name, channel in channels.items():
        operations[f"send_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"Sent by {_by(producer_of(channel['address']))} through its outbox.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Herald bus",
            "version": "1.0.0",
            "description": "Events between Herald's services: one durable topic exchange, "
            "routing key = event type, persistent JSON messages in a common envelope.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/asyncapi.yaml")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(document(), sort_keys=False, allow_unicode=True))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
