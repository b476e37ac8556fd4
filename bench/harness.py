"""Shared pieces of the benchmarks: results, rounds, subprocess servers, the load generator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
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
        yield popen
    finally:
        popen.terminate()
        try:
            popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


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
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {err.decode()[-2000:]}")
    result: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
