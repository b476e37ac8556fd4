"""docker-compose.yml and the Dockerfile, checked by reading them (no Docker engine needed).

Every process of API.md is there on its port with a /healthz healthcheck, starts after the
migrations and its dependencies, and every variable it is given is a real settings field.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.support import (
    PORTS,
    ROOT,
    SERVICE_PORTS,
    env_prefix,
    field_for,
    module_of,
    settings_class,
)

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROCESSES = sorted(PORTS)

DATABASE_URL = "postgresql+asyncpg://postgres:postgres@postgres:5432/herald"
AMQP_URL = "amqp://guest:guest@rabbitmq:5672/"
VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with `${VAR:-default}` resolved to its default."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {
        str(k): VARIABLE.sub(lambda m: m.group(2) or "", "" if v is None else str(v))
        for k, v in env.items()
    }


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    out = set()
    for spec in service.get("ports", []):
        if isinstance(spec, dict):
            out.add((int(spec["published"]), int(spec["target"])))
        else:
            host, _, container = str(spec).rpartition(":")
            out.add((int(host.rpartition(":")[2]), int(container.split("/")[0])))
    return out


def test_the_file_parses_and_names_every_process(compose: dict[str, Any]) -> None:
    names = set(services(compose))
    assert {"postgres", "rabbitmq", "migrate", *PORTS} <= names
    unexpected = names - {"postgres", "rabbitmq", "migrate", *PORTS}
    assert not unexpected, f"services nothing here knows about: {unexpected}"


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_runs_its_module_on_its_port(compose: dict[str, Any], name: str) -> None:
    service = services(compose)[name]
    assert service["command"] == ["python", "-m", module_of(name)]
    assert "build" in service or "image" in service
    port = PORTS[name]
    # Only the gateway (and the sandbox, for development) is reachable from the host.
    if name in {"gateway", "sandbox"}:
        assert published_ports(service) == {(port, port)}, f"{name} must publish {port}"
    else:
        assert not published_ports(service), f"{name} must not be published"
    env = environment(service)
    prefix = name.upper()
    assert env.get(f"{prefix}_HOST") == "0.0.0.0", f"{name} must listen on every interface"
    assert env.get(f"{prefix}_PORT", str(port)) == str(port)


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_has_a_healthcheck_on_healthz(compose: dict[str, Any], name: str) -> None:
    check = services(compose)[name].get("healthcheck")
    assert check and not check.get("disable"), f"{name} has no healthcheck"
    test = check["test"]
    command = " ".join(test[1:]) if isinstance(test, list) else str(test)
    assert str(PORTS[name]) in command, f"{name}'s healthcheck must look at port {PORTS[name]}"
    # Either a direct /healthz URL or the image's herald-healthcheck, which asks /healthz.
    assert "/healthz" in command or "herald-healthcheck" in command
    for key in ("interval", "timeout", "retries"):
        assert key in check, f"{name}'s healthcheck has no {key}"


def healthcheck_script() -> str:
    """The `herald-healthcheck` the Dockerfile writes into the image (a heredoc)."""
    text = DOCKERFILE.read_text()
    match = re.search(r"<<'EOF' /usr/local/bin/herald-healthcheck\n(.*?)\nEOF\n", text, re.S)
    assert match, "the Dockerfile writes no herald-healthcheck"
    return match.group(1)


def test_the_image_healthcheck_knows_every_port() -> None:
    script = healthcheck_script()
    assert "/healthz" in script
    for name, port in PORTS.items():
        assert f'"{module_of(name)}": ("{name.upper()}", {port})' in script


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_image_healthcheck_asks_healthz(tmp_path: Any) -> None:
    script = tmp_path / "herald-healthcheck"
    script.write_text(healthcheck_script())
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        ok = subprocess.run([sys.executable, str(script), str(port)], capture_output=True)
        assert ok.returncode == 0, ok.stderr
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = subprocess.run([sys.executable, str(script), str(closed)], capture_output=True)
    assert down.returncode == 1


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_services_start_after_migrations_and_dependencies(
    compose: dict[str, Any], name: str
) -> None:
    deps = depends_on(services(compose)[name])
    assert deps.get("migrate") == "service_completed_successfully"
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("rabbitmq") == "service_healthy"


def test_the_publisher_waits_for_the_sandbox_and_the_gateway_for_its_upstreams(
    compose: dict[str, Any],
) -> None:
    assert depends_on(services(compose)["publisher"]).get("sandbox") == "service_healthy"
    gateway = depends_on(services(compose)["gateway"])
    for upstream in ("scheduler", "publisher", "inbox", "metrics"):
        assert gateway.get(upstream) in {"service_healthy", "service_started"}


def test_no_dependency_cycle(compose: dict[str, Any]) -> None:
    graph = {name: set(depends_on(spec)) for name, spec in services(compose).items()}
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"dependency cycle: {' -> '.join((*path, node))}"
        if node in done:
            return
        for dep in graph.get(node, ()):
            assert dep in graph, f"{node} depends on unknown service {dep}"
            visit(dep, (*path, node))
        done.add(node)

    for name in graph:
        visit(name, ())


def test_migrate_is_a_one_shot_upgrade_after_postgres(compose: dict[str, Any]) -> None:
    migrate = services(compose)["migrate"]
    assert migrate["command"] == ["python", "-m", "shared.migrations", "upgrade"]
    assert migrate.get("restart", "no") == "no"
    assert depends_on(migrate).get("postgres") == "service_healthy"
    assert environment(migrate)["HERALD_DATABASE_URL"] == DATABASE_URL


def test_postgres_and_rabbitmq(compose: dict[str, Any]) -> None:
    postgres = services(compose)["postgres"]
    assert postgres["image"].split(":")[1].startswith("16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert environment(postgres)["POSTGRES_DB"] == "herald"
    assert environment(postgres)["POSTGRES_PASSWORD"] == "postgres"
    rabbitmq = services(compose)["rabbitmq"]
    tag = rabbitmq["image"].split(":")[1]
    assert tag.startswith(("3.13", "4")), tag
    assert "rabbitmq-diagnostics" in " ".join(rabbitmq["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_platform_env(compose: dict[str, Any], name: str) -> None:
    env = environment(services(compose)[name])
    assert env["HERALD_DATABASE_URL"] == DATABASE_URL
    assert env["HERALD_AMQP_URL"] == AMQP_URL
    assert env["HERALD_INTERNAL_TOKEN"]


def test_internal_addresses(compose: dict[str, Any]) -> None:
    env = {name: environment(services(compose)[name]) for name in PORTS}
    for upstream in ("scheduler", "publisher", "inbox", "metrics"):
        key = f"GATEWAY_{upstream.upper()}_URL"
        assert env["gateway"][key] == f"http://{upstream}:{PORTS[upstream]}"
    assert env["gateway"]["HERALD_ADMIN_TOKEN"]
    assert env["scheduler"]["SCHEDULER_PUBLISHER_URL"] == "http://publisher:8002"
    assert env["publisher"]["PUBLISHER_SANDBOX_URL"] == "http://sandbox:8010"
    assert env["sandbox"]["SANDBOX_WEBHOOK_BASE_URL"] == "http://gateway:8000/hooks"
    assert env["sandbox"]["SANDBOX_PUBLIC_URL"]
    assert env["metrics"]["METRICS_PUBLIC_URL"]


def test_every_internal_url_names_a_service_on_its_port(compose: dict[str, Any]) -> None:
    for name, spec in services(compose).items():
        for key, value in environment(spec).items():
            if not value.startswith(("http://", "https://")):
                continue
            url = urlsplit(value)
            if url.hostname in PORTS:
                assert url.port == PORTS[url.hostname], f"{name}: {key}={value}"


@pytest.mark.parametrize("name", PROCESSES)
def test_every_variable_is_a_settings_field(compose: dict[str, Any], name: str) -> None:
    cls = settings_class(name)
    env = environment(services(compose)[name])
    unknown = [key for key in env if field_for(cls, key) is None]
    assert not unknown, (
        f"{name}: {unknown} set no field of {cls.__name__} "
        f"(prefix {env_prefix(cls)!r}{', or HERALD_' if name != 'sandbox' else ''})"
    )


@pytest.mark.parametrize("name", PROCESSES)
def test_settings_load_from_the_compose_env(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values parse and pass the settings' own validation (JSON maps, keys, ports)."""
    cls = settings_class(name)
    for key in list(os.environ):
        if key.upper().startswith((env_prefix(cls), "HERALD_")):
            monkeypatch.delenv(key)
    env = environment(services(compose)[name])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = cls()
    assert settings.host == "0.0.0.0"  # type: ignore[attr-defined]
    assert settings.port == PORTS[name]  # type: ignore[attr-defined]
    if name != "sandbox":
        assert settings.database_url == DATABASE_URL  # type: ignore[attr-defined]
        assert settings.amqp_url == AMQP_URL  # type: ignore[attr-defined]


def test_network_apps_are_the_sandbox_ones(compose: dict[str, Any]) -> None:
    """The publisher and the inbox get the app credentials the sandbox derives from its seed."""
    settings_class("sandbox")
    from sandbox.settings import SandboxSettings
    from sandbox.state import State

    env = {name: environment(services(compose)[name]) for name in PORTS}
    seed = env["sandbox"].get("SANDBOX_SEED", SandboxSettings.model_fields["seed"].default)
    state = State(SandboxSettings(seed=seed))
    for name in ("publisher", "inbox"):
        apps = json.loads(env[name][f"{name.upper()}_NETWORK_APPS"])
        assert set(apps) == set(state.apps), name
        for network, app in state.apps.items():
            assert apps[network]["client_secret"] == app.client_secret, (name, network)
            if "client_id" in apps[network]:
                assert apps[network]["client_id"] == app.client_id, (name, network)
            if "verify_token" in apps[network]:
                assert apps[network]["verify_token"] == app.verify_token, (name, network)


def test_dockerfile() -> None:
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = [line for line in lines if line.upper().startswith("FROM ")]
    # Python stages on one base; the console is built in a node stage of its own.
    assert froms and froms[-1].split()[1] == "python:3.11-slim"
    assert {line.split()[1] for line in froms} <= {"python:3.11-slim", "node:20-slim"}
    text = "\n".join(lines)
    assert re.search(r"^COPY --from=console .*console/dist", text, re.M), "the console is served"
    assert re.search(r"pip install (--\S+ )*\.$", text, re.M), "the image installs the project"
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the image runs as non-root"
    assert any(line.upper().startswith("HEALTHCHECK ") for line in lines)
    for package in ("shared", "services", "sandbox"):
        assert re.search(rf"^COPY .*\b{package}\b", text, re.M), f"{package}/ is not copied"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "tests"} <= ignored
    for needed in ("pyproject.toml", "shared", "services", "sandbox"):
        assert needed not in ignored
