"""Helpers for the attacks on the platform's edge: raw HTTP, platform addresses, keys.

httpx (like every well-behaved client) removes dot-segments and normalises the path before it
sends a request, and always sends a Content-Length for a body it knows; an attacker does
neither. `raw_request` writes the request line and the body exactly as given.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from deploy.runner import Platform
from tests.e2e.conftest import ADMIN_TOKEN
from tests.support.waits import until


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(
    base_url: str,
    raw_path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    chunked: bool = False,
    timeout: float = 30,
) -> RawResponse:
    """One HTTP/1.1 request written byte for byte (the path is not normalised)."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    lines = [f"{method} {raw_path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    payload = b""
    if body is not None and chunked:
        lines.append("Transfer-Encoding: chunked")
        for start in range(0, len(body), 65536):
            piece = body[start : start + 65536]
            payload += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        payload += b"0\r\n\r\n"
    elif body is not None:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            # Read while writing: a server that refuses the body answers early and closes,
            # and what it answered must be read before the connection is reset.
            answer = asyncio.create_task(_read_all(reader))
            for start in range(0, len(payload), 65536):
                if answer.done() or writer.is_closing():
                    break
                try:
                    writer.write(payload[start : start + 65536])
                    await writer.drain()
                except ConnectionError:
                    break
            raw = await answer
        finally:
            writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    if found.get("transfer-encoding") == "chunked":
        rest = _dechunk(rest)
    return RawResponse(status=int(status_line.split()[1]), headers=found, body=rest)


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    data = b""
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except ConnectionError:
        pass  # reset after the answer (the body was not read): what came is the answer
    return data


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def gateway_url(platform: Platform, replica: int = 0) -> str:
    return f"http://127.0.0.1:{platform.processes[('gateway', replica)].port}"


async def new_workspace(client: httpx.AsyncClient, name: str = "Acme") -> dict[str, Any]:
    r = await client.post(
        "/v1/workspaces",
        json={"name": name, "timezone": "Europe/Paris"},
        headers=bearer(ADMIN_TOKEN),
    )
    assert r.status_code == 201, r.text
    workspace: dict[str, Any] = r.json()
    return workspace


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float, every: float = 0.05
) -> float:
    """Seconds until `check()` held; fails when it did not within `within` seconds."""
    started = time.monotonic()
    await until(check, timeout=within, every=every)
    return time.monotonic() - started
