"""Small request/response helpers shared by the fake networks.

Forms are parsed here rather than with Starlette's ``request.form()`` because that needs the
optional python-multipart package, and the networks' multipart bodies are simple.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from fastapi.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSON:
    return JSON(body, status_code=status, headers=headers)


class NetError(Exception):
    """An error answered in the calling network's own format."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> JSON:
        return json(self.body, self.status, self.headers)


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() not in ("bearer", "oauth"):
        return None
    return token.strip() or None


class Part:
    __slots__ = ("name", "filename", "content_type", "data")

    def __init__(self, name: str, filename: str | None, content_type: str | None, data: bytes):
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.data = data


def parse_multipart(body: bytes, content_type: str) -> dict[str, Part]:
    boundary = ""
    for item in content_type.split(";")[1:]:
        key, _, value = item.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        return {}
    parts: dict[str, Part] = {}
    delimiter = b"--" + boundary.encode()
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name = ""
        filename = None
        ctype = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "content-disposition":
                for attr in value.split(";")[1:]:
                    k, _, v = attr.strip().partition("=")
                    if k == "name":
                        name = v.strip('"')
                    elif k == "filename":
                        filename = v.strip('"')
            elif key == "content-type":
                ctype = value.strip()
        parts[name] = Part(name, filename, ctype, data)
    return parts


async def params(request: Request) -> dict[str, Any]:
    """Query string merged with a form or JSON body, the way Graph-style APIs read parameters."""
    out: dict[str, Any] = dict(request.query_params)
    if request.method in ("GET", "DELETE", "HEAD"):
        return out
    body = await request.body()
    if not body:
        return out
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return out
        if isinstance(data, dict):
            out.update(data)
    elif ctype.startswith("multipart/form-data"):
        for name, part in parse_multipart(body, ctype).items():
            out[name] = part if part.filename is not None else part.data.decode("utf-8", "replace")
    else:
        out.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return out


async def json_body(request: Request) -> dict[str, Any] | None:
    body = await request.body()
    if not body:
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


async def form_list(request: Request) -> list[tuple[str, str]]:
    """Repeated keys (``media_ids[]``) survive here, unlike in ``params``."""
    pairs = list(request.query_params.multi_items())
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    if body and ctype.startswith("application/x-www-form-urlencoded"):
        pairs.extend(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return pairs
