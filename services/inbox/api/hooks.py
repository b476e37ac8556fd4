"""Network webhooks: handshakes and signed events (NETWORKS.md, "Webhooks and notifications").

Open to the internet (no internal token): each request proves itself with the network's
signature over the raw body, and nothing is stored unless it does.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from services.inbox.api.deps import CountersDep, SettingsDep
from services.inbox.normalise import META, identify
from services.inbox.receipts import store_receipt
from services.inbox.settings import InboxSettings, NetworkApp
from services.inbox.signatures import (
    meta_signature_ok,
    verify_token_ok,
    x_crc_response,
    x_signature_ok,
)
from shared.db import unit_of_work
from shared.errors import BadRequest, DomainError, NotFound, PermissionDenied, Unauthorized
from shared.service import RuntimeDep

router = APIRouter(prefix="/hooks", tags=["webhooks"])


class PayloadTooLarge(DomainError):
    status, title, kind = 413, "Payload too large", "payload-too-large"


def network_app(settings: InboxSettings, network: str) -> NetworkApp:
    app = settings.network_apps.get(network)
    if app is None:
        # Without the app secret no signature can be checked, so there is no receiver.
        raise NotFound(f"No webhook receiver is configured for {network}.")
    return app


async def raw_body(request: Request, *, limit: int) -> bytes:
    """The body exactly as sent, refused early when it is larger than any real event."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Webhook bodies are limited to {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Webhook bodies are limited to {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("The webhook body is not valid JSON.", field="body") from exc


async def accept(
    runtime: RuntimeDep, counters: CountersDep, *, network: str, payload: Any, body: bytes
) -> JSONResponse:
    identity = identify(network, payload, body)
    # Our own transaction rather than the request dependency: the 200 must mean "committed".
    async with unit_of_work(runtime.sessions) as session:
        stored = await store_receipt(session, network=network, identity=identity, body=body)
    outcome = "duplicate" if not stored else ("stored" if identity.understood else "unknown")
    counters.receipts.labels(network, outcome).inc()
    return JSONResponse({"ok": True, "duplicate": not stored})


def refused(counters: CountersDep, network: str, reason: str) -> Unauthorized:
    counters.receipts.labels(network, "rejected").inc()
    return Unauthorized(reason)


@router.get("/x", summary="X CRC check")
async def x_crc(crc_token: str, settings: SettingsDep) -> dict[str, str]:
    app = network_app(settings, "x")
    return {"response_token": x_crc_response(secret=app.client_secret, crc_token=crc_token)}


@router.post("/x", summary="X Account Activity events")
async def x_events(
    request: Request, settings: SettingsDep, runtime: RuntimeDep, counters: CountersDep
) -> JSONResponse:
    app = network_app(settings, "x")
    body = await raw_body(request, limit=settings.max_body_bytes)
    header = request.headers.get("x-twitter-webhooks-signature")
    if not x_signature_ok(secret=app.client_secret, body=body, header=header):
        raise refused(counters, "x", "The x-twitter-webhooks-signature is missing or wrong.")
    return await accept(runtime, counters, network="x", payload=parse_json(body), body=body)


def meta_network(network: str) -> str:
    if network not in META:
        raise NotFound(f"No webhook receiver for {network!r}.")
    return network


@router.get("/{network}", summary="Meta verification (Facebook, Instagram, Threads)")
async def meta_verify(network: str, request: Request, settings: SettingsDep) -> PlainTextResponse:
    app = network_app(settings, meta_network(network))
    query = request.query_params
    if query.get("hub.mode") != "subscribe" or not verify_token_ok(
        expected=app.verify_token, given=query.get("hub.verify_token")
    ):
        raise PermissionDenied("The hub.verify_token does not match.")
    return PlainTextResponse(query.get("hub.challenge", ""))


@router.post("/{network}", summary="Meta webhook events (Facebook, Instagram, Threads)")
async def meta_events(
    network: str,
    request: Request,
    settings: SettingsDep,
    runtime: RuntimeDep,
    counters: CountersDep,
) -> JSONResponse:
    app = network_app(settings, meta_network(network))
    body = await raw_body(request, limit=settings.max_body_bytes)
    header = request.headers.get("x-hub-signature-256")
    if not meta_signature_ok(secret=app.client_secret, body=body, header=header):
        raise refused(counters, network, "The X-Hub-Signature-256 is missing or wrong.")
    return await accept(runtime, counters, network=network, payload=parse_json(body), body=body)
