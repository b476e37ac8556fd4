"""Network webhooks: handshakes and signed events (NETWORKS.md, "Webhooks and notifications").

Open to the internet (no internal token): each request proves itself with the network's
signature over the raw body, and nothing is stored unless it does.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from services.inbox.api.deps import CountersDep, SettingsDep
from services.inbox.counters import InboxCounters
from services.inbox.networks import PACKS
from services.inbox.networks.base import Refused
from services.inbox.networks.linkedin import linkedin_challenge_response
from services.inbox.networks.meta import META
from services.inbox.networks.x import x_crc_response
from services.inbox.receiving import challenge, network_app, raw_body, store_event
from services.inbox.settings import InboxSettings
from services.inbox.signatures import (
    BadChallenge,
    verify_token_ok,
)
from shared.errors import (
    BadRequest,
    NotFound,
    PermissionDenied,
)

router = APIRouter(prefix="/hooks", tags=["webhooks"])


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
