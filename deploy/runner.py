"""Runs the whole platform on one machine: `make run` (and the end-to-end tests) use this.

    python -m deploy.runner [--replicas "publisher=3 scheduler=2"]

It checks PostgreSQL and RabbitMQ, creates the database, migrates every schema, starts the
sandbox, reads its app credentials, starts the five services with them, waits until each is
ready, makes a demo workspace, prints where to look, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".run"
SERVICES = ("scheduler", "publisher", "inbox", "metrics", "gateway")
PORTS = {
    "gateway": 8000,
    "scheduler": 8001,
    "publisher": 8002,
    "inbox": 8003,
    "metrics": 8004,
    "sandbox": 8010,
}
NETWORKS = (
    "facebook",
    "instagram",
    "threads",
    "x",
    "linkedin",
    "tiktok",
    "youtube",
    "mastodon",
    "bluesky",
)


@dataclass
class PlatformConfig:
    database: str = "herald"
    pg_url: str = "postgresql://postgres@localhost:5432"
    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    bus_prefix: str = ""
    internal_token: str = ""
    admin_token: str = ""
    ports: dict[str, int] = field(default_factory=lambda: dict(PORTS))
    replicas: dict[str, int] = field(default_factory=dict)
    environment: str = "development"
    log_dir: Path | None = None
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # `host:port` targets outbound fetches of client-given URLs may reach although they are
    # not public (a test's webhook receiver); the sandbox is always among them.
    outbound_allow: list[str] = field(default_factory=list)
    # Extra replicas listen on the service's port + 100 × replica, or, when this is set (tests
    # that run beside other platforms), on any free port.
    replica_ports_free: bool = False

    @property
    def database_url(self) -> str:
        base = self.pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)
        return f"{base}/{self.database}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DependencyMissing(RuntimeError):
    pass


async def check_dependencies(config: PlatformConfig) -> None:
    try:
        conn = await asyncpg.connect(config.pg_url + "/postgres", timeout=5)
        await conn.close()
    except Exception as exc:
        raise DependencyMissing(
            f"PostgreSQL is not reachable at {config.pg_url} ({exc}).\n"
            "  Start it with: pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start\n"
            "  or point HERALD_PG_URL at a running server."
        ) from exc
    import aio_pika

    try:
        connection = await aio_pika.connect(config.amqp_url, timeout=5)
        await connection.close()
    except Exception as exc:
        raise DependencyMissing(
            f"RabbitMQ is not reachable at {config.amqp_url} ({exc}).\n"
            "  Start it with: rabbitmq-server -detached\n"
            "  or point HERALD_AMQP_URL at a running broker."
        ) from exc


async def ensure_database(config: PlatformConfig) -> None:
    conn = await asyncpg.connect(config.pg_url + "/postgres")
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", config.database
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{config.database}"')
    finally:
        await conn.close()


def migrate(config: PlatformConfig) -> None:
    env = {**os.environ, "HERALD_DATABASE_URL": config.database_url}
    for service in SERVICES:
        env.pop(f"{service.upper()}_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "shared.migrations", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


@dataclass
class Process:
    name: str
    replica: int
    port: int
    popen: subprocess.Popen[bytes]


class Platform:
    """The six processes (plus replicas) of a running Herald."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.processes: dict[tuple[str, int], Process] = {}
        self.network_apps: dict[str, dict[str, str]] = {}

    def common_env(self) -> dict[str, str]:
        c = self.config
        sandbox = f"127.0.0.1:{c.ports['sandbox']}"
        # The gateway too: a library file goes out by its signed URL there.
        gateway = f"127.0.0.1:{c.ports['gateway']}"
        return {
            "HERALD_OUTBOUND_ALLOW": ",".join([sandbox, gateway, *c.outbound_allow]),
            "HERALD_ENVIRONMENT": c.environment,
            "HERALD_DATABASE_URL": c.database_url,
            "HERALD_AMQP_URL": c.amqp_url,
            "HERALD_BUS_PREFIX": c.bus_prefix,
            "HERALD_INTERNAL_TOKEN": c.internal_token,
            "HERALD_ADMIN_TOKEN": c.admin_token,
            "PYTHONUNBUFFERED": "1",
        }

    def service_env(self, name: str, port: int) -> dict[str, str]:
        c = self.config
        env = {**os.environ, **self.common_env()}
        # A developer's own per-service database settings must not leak into the platform.
        for key in list(env):
            if key.endswith("_DATABASE_URL") and not key.startswith("HERALD_"):
                del env[key]
        prefix = name.upper()
        env[f"{prefix}_PORT"] = str(port)
        apps = json.dumps(self.network_apps)
        if name == "sandbox":
            env.update(
                SANDBOX_PORT=str(port),
                SANDBOX_PUBLIC_URL=c.url("sandbox"),
                SANDBOX_WEBHOOK_BASE_URL=c.url("gateway") + "/hooks",
            )
        elif name == "gateway":
            for upstream in ("scheduler", "publisher", "inbox", "metrics"):
                env[f"GATEWAY_{upstream.upper()}_URL"] = c.url(upstream)
        elif name == "scheduler":
            env["SCHEDULER_PUBLISHER_URL"] = c.url("publisher")
            # Signed media URLs name the gateway this platform actually listens on.
            env["SCHEDULER_PUBLIC_URL"] = c.url("gateway")
        elif name == "publisher":
            env["PUBLISHER_SANDBOX_URL"] = c.url("sandbox")
            # Channels are subscribed with the networks to push here, as in production.
            env["PUBLISHER_WEBHOOK_CALLBACK_URL"] = c.url("gateway") + "/hooks"
            env["PUBLISHER_NETWORK_APPS"] = apps
        elif name == "inbox":
            env["INBOX_NETWORK_APPS"] = apps
        elif name == "metrics":
            env["METRICS_PUBLIC_URL"] = c.url("gateway")
            # Clicks go to the sandbox's GA4 Measurement Protocol, not Google's.
            env["METRICS_GA4_URL"] = c.url("sandbox") + "/_sandbox/ga4"
        env.update(c.extra_env.get(name, {}))
        return env

    def start_process(self, name: str, replica: int = 0) -> Process:
        if replica and self.config.replica_ports_free:
            port = free_port()
        else:
            port = self.config.ports[name] + 100 * replica
        module = "sandbox" if name == "sandbox" else f"services.{name}"
        out: Any = None
        if self.config.log_dir is not None:
            self.config.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.config.log_dir / f"{name}-{replica}.log", "ab")  # noqa: SIM115
        popen = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=self.service_env(name, port),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )
        proc = Process(name=name, replica=replica, port=port, popen=popen)
        self.processes[(name, replica)] = proc
        return proc

    async def wait_ready(self, proc: Process, path: str = "/readyz", seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        url = f"http://127.0.0.1:{proc.port}{path}"
        # The gateway answers /readyz on its public port only to the platform's operator.
        headers = {"Authorization": f"Bearer {self.config.admin_token}"}
        async with httpx.AsyncClient(timeout=2, headers=headers) as client:
            while time.monotonic() < deadline:
                if proc.popen.poll() is not None:
                    raise RuntimeError(
                        f"{proc.name} exited with {proc.popen.returncode} while starting"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{proc.name} was not ready within {seconds}s ({url})")

    async def fetch_network_apps(self) -> None:
        async with httpx.AsyncClient(base_url=self.config.url("sandbox"), timeout=5) as client:
            for network in NETWORKS:
                r = await client.get(f"/_sandbox/{network}/app")
                if r.status_code == 200:
                    self.network_apps[network] = r.json()

    async def start(self) -> None:
        sandbox = self.start_process("sandbox")
        await self.wait_ready(sandbox, path=f"/_sandbox/{NETWORKS[3]}/app")
        await self.fetch_network_apps()
        started = []
        for name in SERVICES:
            for replica in range(self.config.replicas.get(name, 1)):
                started.append(self.start_process(name, replica))
        await asyncio.gather(*(self.wait_ready(p) for p in started))

    async def restart(self, name: str, replica: int = 0) -> None:
        proc = self.start_process(name, replica)
        await self.wait_ready(proc, path="/_sandbox/x/app" if name == "sandbox" else "/readyz")

    def kill(self, name: str, replica: int = 0, sig: int = signal.SIGKILL) -> None:
        proc = self.processes.pop((name, replica))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, sig)
        proc.popen.wait(timeout=30)

    def stop(self, timeout: float = 15) -> None:
        procs = list(self.processes.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()
        self.processes.clear()


def write_private(path: Path, text: str) -> None:
    """Writes a file only its owner can read (tokens, keys): created 0600, never wider."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def _secret(path: Path, env_name: str) -> str:
    if os.environ.get(env_name):
        return os.environ[env_name]
    if not path.exists():
        write_private(path, secrets.token_urlsafe(24))
    # A file left readable by an older run is narrowed.
    path.chmod(0o600)
    return path.read_text().strip()


async def demo_workspace(config: PlatformConfig) -> dict[str, Any]:
    """Makes (once) a demo workspace and keeps its owner key in .run/demo.json."""
    saved = STATE / "demo.json"
    async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=10) as client:
        if saved.exists():
            saved.chmod(0o600)
            demo: dict[str, Any] = json.loads(saved.read_text())
            r = await client.get(
                "/v1/api-keys", headers={"Authorization": f"Bearer {demo['api_key']}"}
            )
            if r.status_code == 200:
                return demo
        r = await client.post(
            "/v1/workspaces",
            json={"name": "Demo", "timezone": "Europe/London"},
            headers={"Authorization": f"Bearer {config.admin_token}"},
        )
        r.raise_for_status()
        demo = r.json()
        write_private(saved, json.dumps(demo))
        return demo


def parse_replicas(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in text.split():
        name, _, count = part.partition("=")
        if name not in SERVICES:
            raise SystemExit(f"unknown service in REPLICAS: {name!r} (one of {SERVICES})")
        out[name] = int(count)
    return out


def build_console() -> str:
    """Builds the web console when missing or stale; a failure leaves the platform running
    (the gateway then answers /console with a 503 saying how to build it)."""
    from deploy import console

    if not console.stale():
        return ""
    print("building the console (npm)…", flush=True)
    try:
        console.ensure_built()
    except console.BuildFailed as exc:
        print(f"the console did not build:\n{exc}", file=sys.stderr)
        return "   (not built: see above)"
    return ""


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.runner")
    parser.add_argument("--replicas", default=os.environ.get("REPLICAS", ""))
    args = parser.parse_args()
    config = PlatformConfig(
        pg_url=os.environ.get("HERALD_PG_URL", "postgresql://postgres@localhost:5432"),
        amqp_url=os.environ.get("HERALD_AMQP_URL", "amqp://guest:guest@localhost:5672/"),
        internal_token=_secret(STATE / "internal_token", "HERALD_INTERNAL_TOKEN"),
        admin_token=_secret(STATE / "admin_token", "HERALD_ADMIN_TOKEN"),
        replicas=parse_replicas(args.replicas),
        log_dir=STATE / "logs",
        outbound_allow=[
            t.strip() for t in os.environ.get("HERALD_OUTBOUND_ALLOW", "").split(",") if t.strip()
        ],
    )
    try:
        await check_dependencies(config)
    except DependencyMissing as exc:
        print(f"\n{exc}\n", file=sys.stderr)
        raise SystemExit(1) from None
    await ensure_database(config)
    # The console builds (npm, about half a minute when stale) while the schemas migrate.
    console_build = asyncio.create_task(asyncio.to_thread(build_console))
    await asyncio.to_thread(migrate, config)
    console_note = await console_build
    platform = Platform(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await platform.start()
        demo = await demo_workspace(config)
        print(
            "\nHerald is running.\n"
            f"  console          {config.url('gateway')}/console/{console_note}\n"
            f"  API (gateway)    {config.url('gateway')}   docs: {config.url('gateway')}/docs\n"
            f"  sandbox          {config.url('sandbox')}\n"
            f"  services         " + ", ".join(f"{s} {config.url(s)}" for s in SERVICES[:-1]) + "\n"
            f"  logs             {config.log_dir}/\n"
            f"  admin token      {config.admin_token}\n"
            f"  demo workspace   {demo['id']}\n"
            f"  demo API key     {demo['api_key']}\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stop.is_set():
            await asyncio.sleep(0.5)
            for proc in list(platform.processes.values()):
                if proc.popen.poll() is not None:
                    print(
                        f"{proc.name} exited ({proc.popen.returncode}); see its log",
                        file=sys.stderr,
                    )
                    stop.set()
    finally:
        print("stopping…", flush=True)
        platform.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
