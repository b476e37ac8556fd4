from pathlib import Path

import yaml

from shared.asyncapi import document, producer_of
from shared.events import REGISTRY


def test_every_event_model_has_a_channel_and_a_message():
    doc = document()
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {event_type for event_type, _ in REGISTRY}
    for (event_type, version), model in REGISTRY.items():
        key = f"{event_type.replace('.', '_')}_v{version}"
        message = doc["components"]["messages"][key]
        assert message["name"] == event_type
        assert model.__name__ in doc["components"]["schemas"]


def test_refs_resolve_and_producers_are_known():
    doc = document()
    text = yaml.safe_dump(doc)
    for line in text.splitlines():
        if "$ref: '#/" in line:
            path = line.split("'#/")[1].rstrip("'").split("/")
            node = doc
            for part in path:
                node = node[part]
    assert all(producer_of(c["address"]) != "unknown" for c in doc["channels"].values())


def test_committed_document_is_current():
    committed = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
    assert yaml.safe_load(committed.read_text()) == document(), "run make asyncapi"
