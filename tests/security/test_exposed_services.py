"""Services reachable around the gateway, with a secret everyone knows.

docker-compose published the four services, PostgreSQL and RabbitMQ (with its management UI)
on the host, and gave every service the internal token `compose-internal-token`, which the
placeholder check did not refuse: anyone who could reach the host could call a service
directly, as any workspace and role. Now only the gateway (and the sandbox, a development
tool) is published, every well-known secret is refused outside development, and in
Kubernetes a NetworkPolicy lets only the gateway (and, for the publisher, the scheduler)
reach the services.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings
from services.inbox.settings import InboxSettings
from services.metrics.settings import MetricsSettings
from services.publisher.settings import DEVELOPMENT_KEY, PublisherSettings
from services.scheduler.settings import SchedulerSettings
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: list[type[ServiceSettings]] = [
    GatewaySettings,
    SchedulerSettings,
    PublisherSettings,
    InboxSettings,
    MetricsSettings,
]
REAL = "a-real-secret-nobody-knows-0123456789"
REAL_KEYS = {"k1": "ZmFrZS1idXQtbm90LXB1YmxpYy1rZXktMzItYnl0ZXM="}
# What the rest of the platform would be reachable on.
INSIDE_PORTS = {8001, 8002, 8003, 8004, 5432, 5672, 15672, 9000}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def published(service: dict[str, Any]) -> set[int]:
    ports = set()
    for spec in service.get("ports", []):
        text = str(spec["published"]) if isinstance(spec, dict) else str(spec).rsplit(":", 1)[0]
        ports.add(int(text.rsplit(":", 1)[-1]))
    return ports


def test_compose_publishes_only_the_gateway_and_the_sandbox() -> None:
    services = compose()["services"]
    exposed = {name: published(spec) for name, spec in services.items() if published(spec)}
    assert exposed == {"gateway": {8000}, "sandbox": {8010}}
    for spec in services.values():
        assert not published(spec) & INSIDE_PORTS
        assert "network_mode" not in spec  # host networking would publish everything


def well_known_secrets() -> set[str]:
    """Every default secret a reader of this repository finds: compose's ${VAR:-default}s
    for tokens, the k8s templates' placeholders, the development defaults."""
    found = set()
    text = (ROOT / "docker-compose.yml").read_text()
    for _name, default in re.findall(r"\$\{(HERALD_\w*TOKEN\w*):-([^}]*)\}", text):
        if default:
            found.add(default)
    for doc in yaml.safe_load_all((ROOT / "deploy/k8s/secret.yaml").read_text()):
        for key, value in doc.get("stringData", {}).items():
            if key.endswith("TOKEN"):
                found.add(value)
    found |= {ServiceSettings().internal_token, GatewaySettings().admin_token}
    return found


def test_the_well_known_secrets_are_found() -> None:
    assert {"compose-internal-token", "compose-admin-token", "change-me"} <= well_known_secrets()


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.service_name)
def test_well_known_internal_tokens_are_refused_in_production(cls, monkeypatch) -> None:  # noqa: ANN001
    for key in ("HERALD_INTERNAL_TOKEN", "HERALD_ADMIN_TOKEN", "HERALD_ENVIRONMENT"):
        monkeypatch.delenv(key, raising=False)
    base = {"environment": "production", "internal_token": REAL}
    if cls is GatewaySettings:
        base["admin_token"] = REAL
    if cls in (PublisherSettings, MetricsSettings, GatewaySettings):
        base["encryption_keys"] = REAL_KEYS
        base["active_key_id"] = "k1"
    if cls is SchedulerSettings:
        base["media_url_secret"] = REAL
    if cls is MetricsSettings:
        base["report_link_secret"] = REAL
    cls(**base)  # a real secret starts
    for secret in well_known_secrets():
        with pytest.raises(ValidationError, match="internal_token"):
            cls(**{**base, "internal_token": secret})
        with pytest.raises(ValidationError, match="internal_token"):
            cls(**{**base, "accepted_internal_tokens": secret or " , "})
        # Development keeps its conveniences.
        if secret:
            cls(**{**base, "internal_token": secret, "environment": "development"})
    with pytest.raises(ValidationError, match="database_url"):
        cls(**{**base, "database_url": "postgresql+asyncpg://herald:change-me@db:5432/herald"})


def test_well_known_admin_tokens_and_keys_are_refused_in_production() -> None:
    for secret in well_known_secrets():
        with pytest.raises(ValidationError, match="admin_token"):
            GatewaySettings(
                environment="production",
                internal_token=REAL,
                admin_token=secret,
                encryption_keys=REAL_KEYS,
                active_key_id="k1",
            )
    # The public development key, even when it is only kept for old rows.
    with pytest.raises(ValidationError, match="development key"):
        PublisherSettings(
            environment="production",
            internal_token=REAL,
            encryption_keys={**REAL_KEYS, "dev-1": DEVELOPMENT_KEY},
            active_key_id="k1",
        )


# --- Kubernetes: who may connect to which pod ----------------------------------------------


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((ROOT / "deploy/k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        value, op = labels.get(expression["key"]), expression["operator"]
        if op == "In" and value not in expression["values"]:
            return False
        if op == "NotIn" and value in expression["values"]:
            return False
        if op == "Exists" and value is None:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return True


def pods() -> dict[str, dict[str, str]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in k8s_docs()
        if d["kind"] == "Deployment"
    }


def who_may_connect(target: str, port: int) -> set[str]:
    """Deployments of the namespace (and 'outside' / 'monitoring') that may open `port` on
    the pods of `target`, per the NetworkPolicies (allowed when any selecting policy allows;
    no selecting policy at all means everything may)."""
    labels = pods()[target]
    policies = [
        d
        for d in k8s_docs()
        if d["kind"] == "NetworkPolicy"
        and selects(d["spec"]["podSelector"], labels)
        and "Ingress" in d["spec"].get("policyTypes", ["Ingress"])
    ]
    everyone = {*pods(), "outside", "monitoring"}
    if not policies:
        return everyone
    allowed: set[str] = set()
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            ports = {p.get("port") for p in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            peers = rule.get("from")
            if not peers:
                return everyone
            for peer in peers:
                if "ipBlock" in peer:
                    allowed.add("outside")
                elif "namespaceSelector" in peer:
                    labels_ = peer["namespaceSelector"].get("matchLabels", {})
                    allowed.add(
                        "monitoring" if labels_ == {"herald.dev/monitoring": "true"} else "outside"
                    )
                else:
                    allowed |= {n for n, pod in pods().items() if selects(peer["podSelector"], pod)}
    return allowed


@pytest.mark.parametrize(
    ("service", "port", "callers"),
    [
        ("herald-scheduler", 8001, {"herald-gateway", "monitoring"}),
        ("herald-publisher", 8002, {"herald-gateway", "herald-scheduler", "monitoring"}),
        ("herald-inbox", 8003, {"herald-gateway", "monitoring"}),
        ("herald-metrics", 8004, {"herald-gateway", "monitoring"}),
    ],
)
def test_only_the_gateway_reaches_the_services(service: str, port: int, callers: set[str]) -> None:
    assert who_may_connect(service, port) == callers


def test_the_gateway_is_the_way_in() -> None:
    assert "outside" in who_may_connect("herald-gateway", 8000)
    assert who_may_connect("herald-gateway", 9000) == {"monitoring"}
