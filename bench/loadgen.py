"""An HTTP/1.1 keep-alive load generator on raw asyncio streams, run in its own process.

    python -m bench.loadgen URL --method POST --body-file F --header 'k: v' \
        --connections 32 --seconds 5 [--requests N]

Prints one JSON line: requests, errors, seconds, rps, p50/p99/max latency (ms). A body file
with one body per line sends them in turn (so each webhook is a different event).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def worker(
    host: str,
    port: int,
    requests: list[bytes],
    deadline: float,
    budget: list[int],
    latencies: list[float],
    errors: list[int],
    start_index: int,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = start_index
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            request = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("closed")
            length = 0
            chunked = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value.strip())
                elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            elif length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status_line.split(b" ")[1].startswith((b"2", b"3")):
                errors[0] += 1
    finally:
        writer.close()


def build_requests(url: str, method: str, bodies: list[bytes], headers: list[str]) -> list[bytes]:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    out = []
    for body in bodies or [b""]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += headers
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return out


async def run(args: argparse.Namespace) -> dict[str, float]:
    parts = urlsplit(args.url)
    bodies: list[bytes] = []
    headers_per_body: list[list[str]] = []
    if args.body_file:
        with open(args.body_file, "rb") as f:
            for line in f:
                line = line.rstrip(b"\n")
                if not line:
                    continue
                # A line may carry its own headers: {"headers": {...}, "body": "..."}
                item = json.loads(line)
                bodies.append(item["body"].encode())
                headers_per_body.append([f"{k}: {v}" for k, v in item.get("headers", {}).items()])
    requests: list[bytes] = []
    if bodies:
        for body, extra in zip(bodies, headers_per_body, strict=True):
            requests += build_requests(args.url, args.method, [body], args.header + extra)
    else:
        requests = build_requests(args.url, args.method, [], args.header)
    latencies: list[float] = []
    errors = [0]
    budget = [args.requests or 10**12]
    started = time.perf_counter()
    deadline = started + args.seconds
    per = max(1, len(requests) // args.connections)
    await asyncio.gather(
        *(
            worker(
                parts.hostname or "127.0.0.1",
                parts.port or 80,
                requests,
                deadline,
                budget,
                latencies,
                errors,
                i * per,
            )
            for i in range(args.connections)
        )
    )
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies, default=0) * 1000,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--method", default="GET")
    p.add_argument("--body-file")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--requests", type=int, default=0)
    args = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(args))))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
