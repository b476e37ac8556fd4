"""Shared pieces of the benchmarks: results, rounds, subprocess servers, the load generator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    """One measured figure against its same-run baseline."""

    benchmark: str
    metric: str
    unit: str
    value: float
    baseline_name: str
    baseline: float | None
    goal: str
    higher_is_better: bool = True
    rounds: list[float] = field(default_factory=list)
    baseline_rounds: list[float] = field(default_factory=list)
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["min"] = min(self.rounds) if self.rounds else None
        d["max"] = max(self.rounds) if self.rounds else None
        return d


async def rounds(n: int, measure: Callable[[], Awaitable[float]]) -> list[float]:
    return [await measure() for _ in range(n)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Profiles:
    """py-spy flame graphs of the processes a benchmark drives (`python -m bench --profile`).

    While a benchmark runs, every service process it starts (or the platform it uses) gets a
    `py-spy record` attached, and so does the bench process itself (for benchmarks that run
    the code under test in-process, like the dispatcher). Each writes
    `bench/results/profile-<benchmark>-<process>.svg` when its process ends or the benchmark
    does. py-spy samples without stopping the process (`--nonblocking`), so the figures of a
    profiled run move little, but they are not the figures to quote.
    """

    def __init__(self) -> None:
        self.only: set[str] | None = None
        self.results_dir = ROOT / "bench" / "results"
        self.benchmark: str | None = None
        self.recorders: list[tuple[Path, subprocess.Popen[bytes]]] = []
        self.written: list[Path] = []

    def configure(self, names: list[str] | None, results_dir: Path) -> None:
        """`names` None: off; empty: every benchmark; otherwise only those."""
        self.only = None if names is None else set(names)
        self.results_dir = results_dir

    @property
    def active(self) -> bool:
        return (
            self.benchmark is not None
            and self.only is not None
            and (not self.only or self.benchmark in self.only)
        )

    def attach(self, label: str, pid: int) -> None:
        if not self.active:
            return
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(py_spy).exists():
            raise RuntimeError("--profile needs py-spy (pip install py-spy; dev dependency)")
        taken = {p for p, _ in self.recorders}
        path = self.results_dir / f"profile-{self.benchmark}-{label}.svg"
        n = 1
        while path in taken:  # the same service started again within one benchmark
            n += 1
            path = self.results_dir / f"profile-{self.benchmark}-{label}-{n}.svg"
        log = self.results_dir / "logs" / f"py-spy-{self.benchmark}-{label}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--output",
                    str(path),
                    "--format",
                    "flamegraph",
                    "--rate",
                    "100",
                    "--nonblocking",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.recorders.append((path, popen))

    def attach_platform(self, platform: Any) -> None:
        for (name, replica), proc in platform.processes.items():
            self.attach(name if not replica else f"{name}-{replica}", proc.popen.pid)

    async def finish(self) -> None:
        """Stops the recorders still running (SIGINT makes py-spy write its file)."""
        for _, popen in self.recorders:
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    popen.send_signal(signal.SIGINT)
        for path, popen in self.recorders:
            try:
                await asyncio.to_thread(popen.wait, 60)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
            if path.exists() and b"No valid input" in path.read_bytes()[:2000]:
                # py-spy saw the process busy not once (it records CPU, not waiting).
                path.unlink()
            if path.exists() and path not in self.written:
                self.written.append(path)
        self.recorders.clear()

    @contextlib.asynccontextmanager
    async def running(self, benchmark: str, platform: Any = None) -> AsyncIterator[None]:
        self.benchmark = benchmark
        try:
            self.attach("bench", os.getpid())
            if platform is not None:
                self.attach_platform(platform)
            yield
        finally:
            await self.finish()
            self.benchmark = None


PROFILES = Profiles()


def service_of(args: list[str]) -> str | None:
    """`inbox` for `python -m services.inbox`: the processes worth a profile."""
    for i, arg in enumerate(args[:-1]):
        if arg == "-m" and args[i + 1].startswith("services."):
            return args[i + 1].split(".")[1]
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def process(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    ready_url: str | None = None,
    log: Path | None = None,
) -> AsyncIterator[subprocess.Popen[bytes]]:
    out: Any = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    popen = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if ready_url:
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(timeout=2) as client:
                while True:
                    if popen.poll() is not None:
                        raise RuntimeError(f"{args} exited with {popen.returncode}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(ready_url)).status_code < 500:
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError(ready_url)
                    await asyncio.sleep(0.1)
        service = service_of(args)
        if service is not None:
            if not ready_url:
                await asyncio.sleep(1)  # py-spy needs the interpreter up to attach
            PROFILES.attach(service, popen.pid)
        yield popen
    finally:
        popen.terminate()
        try:
            popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def service_process(
    service: str, port: int, *, env: dict[str, str], log: Path, ready: str = "healthz"
) -> contextlib.AbstractAsyncContextManager[subprocess.Popen[bytes]]:
    """One of the platform's services as its own process on `port`, ready (its `ready`
    endpoint answers) when this enters."""
    return process(
        [sys.executable, "-m", f"services.{service}"],
        env=env,
        ready_url=f"http://127.0.0.1:{port}/{ready}",
        log=log,
    )


def bare_endpoint(port: int) -> contextlib.AbstractAsyncContextManager[subprocess.Popen[bytes]]:
    """The bare uvicorn baseline (`bench.bare`) on `port`, ready when this enters."""
    return process(
        [sys.executable, "-m", "bench.bare", str(port)],
        ready_url=f"http://127.0.0.1:{port}/",
    )


async def load(
    url: str,
    *,
    method: str = "GET",
    body_file: Path | None = None,
    headers: dict[str, str] | None = None,
    connections: int = 32,
    seconds: float = 5,
    requests: int = 0,
) -> dict[str, float]:
    """Runs the load generator in its own process; returns its JSON summary."""
    args = [
        sys.executable,
        "-m",
        "bench.loadgen",
        url,
        "--method",
        method,
        "--connections",
        str(connections),
        "--seconds",
        str(seconds),
    ]
    if requests:
        args += ["--requests", str(requests)]
    if body_file:
        args += ["--body-file", str(body_file)]
    for k, v in (headers or {}).items():
        args += ["--header", f"{k}: {v}"]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await proc.communicate()
    except BaseException:
        # The run is being stopped: the generator must not keep loading a server after it.
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {err.decode()[-2000:]}")
    result: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
