"""Network webhooks: handshakes and signed events (NETWORKS.md, "Webhooks and notifications").

Open to the internet (no internal token): each request proves itself with the network's
signature over the raw body, and nothing is stored unless it does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from services.inbox.api.deps import CountersDep, InboxCounters, SettingsDep
from services.inbox.intake import ReceiptWriter
from services.inbox.networks import PACKS, identify
from services.inbox.networks.base import Refused
from services.inbox.networks.linkedin import linkedin_challenge_response
from services.inbox.networks.meta import META
from services.inbox.networks.x import x_crc_response
from services.inbox.settings import InboxSettings, NetworkApp
from services.inbox.signatures import (
    BadChallenge,
    check_challenge,
    check_signed_challenge,
    verify_token_ok,
)
from shared.errors import (
    BadRequest,
    DomainError,
    NotFound,
    PermissionDenied,
    Unavailable,
)

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


def challenge(value: str, *, field: str, signed: bool = False) -> str:
    try:
        return check_signed_challenge(value) if signed else check_challenge(value)
    except BadChallenge as exc:
        raise BadRequest(f"{field} {exc}.", field=field) from None


async def store_event(
    writer: ReceiptWriter, counters: InboxCounters, *, network: str, payload: Any, body: bytes
) -> bool:
    """Stores a verified event; True when it is new. Raises Unavailable if it cannot be kept."""
    identity = identify(network, payload, body)
    try:
        # Answered only once the receipt is committed: a 200 means "kept".
        stored = await writer.store(network=network, identity=identity, body=body)
    except Exception as exc:  # noqa: BLE001  (the network retries a 503 later)
        counters.receipts.labels(network, "unavailable").inc()
        raise Unavailable("The webhook could not be stored; deliver it again.") from exc
    outcome = "duplicate" if not stored else ("stored" if identity.understood else "unknown")
    counters.receipts.labels(network, outcome).inc()
    return stored


async def receive_event(
    network: str, request: Request, settings: InboxSettings, counters: InboxCounters
) -> JSONResponse:
    app = network_app(settings, network)
    body = await raw_body(request, limit=settings.max_body_bytes)
    try:
        payload = PACKS[network].verify(settings, app, request.headers, body)
    except Refused:
        counters.receipts.labels(network, "rejected").inc()
        raise
    stored = await store_event(
        request.app.state.receipt_writer, counters, network=network, payload=payload, body=body
    )
    return JSONResponse({"ok": True, "duplicate": not stored})


@router.get("/x", summary="X CRC check")
async def x_crc(crc_token: str, settings: SettingsDep) -> dict[str, str]:
    app = network_app(settings, "x")
    token = challenge(crc_token, field="crc_token", signed=True)
    return {"response_token": x_crc_response(secret=app.client_secret, crc_token=token)}


@router.post("/x", summary="X Account Activity events")
async def x_events(request: Request, settings: SettingsDep, counters: CountersDep) -> JSONResponse:
    return await receive_event("x", request, settings, counters)


@router.get("/linkedin", summary="LinkedIn endpoint validation (challengeCode)")
async def linkedin_validate(challengeCode: str, settings: SettingsDep) -> dict[str, str]:  # noqa: N803
    app = network_app(settings, "linkedin")
    try:
        response = linkedin_challenge_response(
            secret=app.client_secret, challenge_code=challengeCode
        )
    except BadChallenge as exc:
        raise BadRequest(f"challengeCode {exc}.", field="challengeCode") from None
    return {"challengeCode": challengeCode, "challengeResponse": response}


@router.post("/linkedin", summary="LinkedIn organization social action notifications")
async def linkedin_events(
    request: Request, settings: SettingsDep, counters: CountersDep
) -> JSONResponse:
    return await receive_event("linkedin", request, settings, counters)


@router.post("/tiktok", summary="TikTok webhook events")
async def tiktok_events(
    request: Request, settings: SettingsDep, counters: CountersDep
) -> JSONResponse:
    return await receive_event("tiktok", request, settings, counters)


@router.get("/youtube", summary="YouTube WebSub verification (hub.challenge)")
async def youtube_verify(request: Request, settings: SettingsDep) -> PlainTextResponse:
    app = network_app(settings, "youtube")
    query = request.query_params
    topic = query.get("hub.topic", "")
    if query.get("hub.mode") not in ("subscribe", "unsubscribe") or "hub.challenge" not in query:
        raise BadRequest("Not a WebSub verification request.", field="hub.mode")
    # Only YouTube channel feeds are subscribed to; a hub asking about anything else did not
    # get that subscription from us. A verify token, when configured, must match as well.
    parts = urlsplit(topic)
    if parts.path != "/xml/feeds/videos.xml" or "channel_id" not in parse_qs(parts.query):
        raise NotFound("We did not subscribe to this topic.")
    if app.verify_token and not verify_token_ok(
        expected=app.verify_token, given=query.get("hub.verify_token")
    ):
        raise PermissionDenied("The hub.verify_token does not match.")
    return PlainTextResponse(challenge(query["hub.challenge"], field="hub.challenge"))


@router.post("/youtube", summary="YouTube WebSub upload notifications (Atom)")
async def youtube_events(
    request: Request, settings: SettingsDep, counters: CountersDep
) -> JSONResponse:
    return await receive_event("youtube", request, settings, counters)


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
    return PlainTextResponse(challenge(query.get("hub.challenge", ""), field="hub.challenge"))


@router.post("/{network}", summary="Meta webhook events (Facebook, Instagram, Threads)")
async def meta_events(
    network: str, request: Request, settings: SettingsDep, counters: CountersDep
) -> JSONResponse:
    return await receive_event(meta_network(network), request, settings, counters)
