"""deploy/k8s: every manifest validates against the Kubernetes schemas (kubernetes-validate,
offline) and every service has its Deployment, Service and HorizontalPodAutoscaler, probed on
the paths and ports of API.md, configured with real settings fields only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    ROOT,
    SERVICE_PORTS,
    field_for,
    owner_of,
    settings_class,
)

kubernetes_validate = pytest.importorskip("kubernetes_validate")

K8S = ROOT / "deploy" / "k8s"
# Schemas kubernetes-validate ships: the oldest release still common in managed clusters and a
# recent one.
K8S_VERSIONS = ("1.30.0", "1.33.0")
SERVICES = sorted(SERVICE_PORTS)
OPS_PORTS = {"gateway": 9000}


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.y*ml") if p.name != "kustomization.yaml")


def load() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path, doc))
    return docs


DOCS = load()


def find(kind: str, name: str) -> dict[str, Any]:
    found = [d for _, d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def port_number(c: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
    assert port in named, f"probe uses unknown port name {port!r}"
    return int(named[port])


def env_keys(c: dict[str, Any]) -> dict[str, str]:
    """Every variable a container gets, with where it comes from."""
    keys: dict[str, str] = {}
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            kind, ref = "ConfigMap", source["configMapRef"]["name"]
            data = find(kind, ref).get("data", {})
        else:
            kind, ref = "Secret", source["secretRef"]["name"]
            secret = find(kind, ref)
            data = {**secret.get("data", {}), **secret.get("stringData", {})}
        prefix = source.get("prefix", "")
        keys.update({f"{prefix}{k}": f"{kind} {ref}" for k in data})
    keys.update({e["name"]: "env" for e in c.get("env", [])})
    return keys


def test_there_are_manifests() -> None:
    assert DOCS, "deploy/k8s holds no manifests"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates(version: str) -> None:
    assert version in {v.lstrip("v") for v in kubernetes_validate.utils.all_versions()}
    problems = []
    for path, doc in DOCS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(
                f"{path.name} {doc.get('kind')}/{doc['metadata'].get('name')}: "
                f"{exc.message} at {'/'.join(map(str, exc.path))}"
            )
    assert not problems, "\n".join(problems)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert sorted(resources) == sorted(p.name for p in manifest_files())
    assert kustomization.get("namespace")
    assert any(image["name"] == "herald" for image in kustomization.get("images", []))


def test_names_are_unique() -> None:
    seen = [(d["kind"], d["metadata"]["name"]) for _, d in DOCS]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("name", SERVICES)
def test_deployment(name: str) -> None:
    deployment = find("Deployment", f"herald-{name}")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2, "one replica is a single point of failure"
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod.get("terminationGracePeriodSeconds", 30) >= 30
    c = container(deployment)
    assert c["image"] == "herald"
    assert c["command"] == ["python", "-m", f"services.{name}"]
    # The gateway answers /readyz and /metrics only on its operators' port (GATEWAY_OPS_PORT).
    ops_port = OPS_PORTS.get(name)
    assert [p["containerPort"] for p in c["ports"]] == [
        SERVICE_PORTS[name],
        *([ops_port] if ops_port else []),
    ]
    if ops_port:
        assert {"name": "GATEWAY_OPS_PORT", "value": str(ops_port)} in c["env"]
        annotations = spec["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(ops_port)

    readiness = c["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/readyz"
    assert port_number(c, readiness["port"]) == (ops_port or SERVICE_PORTS[name])
    liveness = c["livenessProbe"]["httpGet"]
    assert liveness["path"] == "/healthz"
    assert port_number(c, liveness["port"]) == SERVICE_PORTS[name]
    # /readyz checks the database with a 5 s timeout of its own.
    assert c["readinessProbe"].get("timeoutSeconds", 1) > 5

    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{name}: {kind}"

    sources = c["envFrom"]
    assert any(s.get("configMapRef", {}).get("name") == "herald-config" for s in sources)
    assert any(s.get("secretRef", {}).get("name") == "herald-platform" for s in sources)


@pytest.mark.parametrize("name", SERVICES)
def test_service(name: str) -> None:
    service = find("Service", f"herald-{name}")
    deployment = find("Deployment", f"herald-{name}")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == SERVICE_PORTS[name]
    assert port_number(container(deployment), port["targetPort"]) == SERVICE_PORTS[name]


@pytest.mark.parametrize("name", SERVICES)
def test_autoscaler(name: str) -> None:
    hpa = find("HorizontalPodAutoscaler", f"herald-{name}")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        "apps/v1",
        "Deployment",
        f"herald-{name}",
    )
    spec = hpa["spec"]
    deployment = find("Deployment", f"herald-{name}")
    assert 1 <= spec["minReplicas"] <= deployment["spec"]["replicas"] <= spec["maxReplicas"]
    cpu = [m for m in spec["metrics"] if m["type"] == "Resource"]
    assert cpu and cpu[0]["resource"]["name"] == "cpu"
    assert cpu[0]["resource"]["target"]["type"] == "Utilization"


def test_migration_job() -> None:
    job = find("Job", "herald-migrate")
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    c = pod["containers"][0]
    assert c["command"] == ["python", "-m", "shared.migrations", "upgrade"]
    keys = env_keys(c)
    assert "HERALD_DATABASE_URL" in keys


def test_postgres_and_rabbitmq_are_external() -> None:
    images = " ".join(
        c.get("image", "")
        for _, d in DOCS
        if d["kind"] in {"Deployment", "StatefulSet", "Job"}
        for c in d["spec"]["template"]["spec"]["containers"]
    )
    assert "postgres" not in images and "rabbitmq" not in images
    platform = find("Secret", "herald-platform")["stringData"]
    assert platform["HERALD_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert platform["HERALD_AMQP_URL"].startswith(("amqp://", "amqps://"))
    assert "HERALD_INTERNAL_TOKEN" in platform


def test_the_sandbox_is_not_deployed() -> None:
    for _, doc in DOCS:
        assert "sandbox" not in doc["metadata"]["name"]
    for name in SERVICES:
        keys = env_keys(container(find("Deployment", f"herald-{name}")))
        assert not [k for k in keys if "SANDBOX" in k], f"{name} is pointed at the sandbox"


def test_the_gateway_finds_its_upstreams() -> None:
    config = find("ConfigMap", "herald-config")["data"]
    for upstream in ("scheduler", "publisher", "inbox", "metrics"):
        url = config[f"GATEWAY_{upstream.upper()}_URL"]
        assert url == f"http://herald-{upstream}:{SERVICE_PORTS[upstream]}"
        find("Service", f"herald-{upstream}")
    assert config["SCHEDULER_PUBLISHER_URL"] == "http://herald-publisher:8002"


def test_services_listen_on_every_interface() -> None:
    config = find("ConfigMap", "herald-config")["data"]
    for name in SERVICES:
        keys = env_keys(container(find("Deployment", f"herald-{name}")))
        host = f"{name.upper()}_HOST"
        assert host in keys or "HERALD_HOST" in keys
        assert config.get(host, config.get("HERALD_HOST")) == "0.0.0.0"


@pytest.mark.parametrize("name", SERVICES)
def test_every_variable_is_a_settings_field(name: str) -> None:
    """Each variable a pod gets sets a field of its service (own prefix or the HERALD_
    fallback), or, from the shared ConfigMap, a field of the service whose prefix it carries."""
    cls = settings_class(name)
    keys = env_keys(container(find("Deployment", f"herald-{name}")))
    problems = []
    for key, source in keys.items():
        owner = owner_of(key)
        if key.startswith("HERALD_") or owner == name:
            if field_for(cls, key) is None:
                problems.append(f"{key} ({source}) sets no field of {cls.__name__}")
        elif owner is None or owner == "sandbox":
            problems.append(f"{key} ({source}) belongs to no deployed service")
        elif field_for(settings_class(owner), key) is None:
            problems.append(f"{key} ({source}) sets no field of the {owner} settings")
    assert not problems, "\n".join(problems)


def test_every_secret_and_config_map_is_used() -> None:
    used = set()
    for _, doc in DOCS:
        if doc["kind"] in {"Deployment", "Job"}:
            for c in doc["spec"]["template"]["spec"]["containers"]:
                for source in c.get("envFrom", []):
                    ref = source.get("configMapRef") or source.get("secretRef")
                    used.add(ref["name"])
    defined = {d["metadata"]["name"] for _, d in DOCS if d["kind"] in {"ConfigMap", "Secret"}}
    assert defined == used
