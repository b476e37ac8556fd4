"""What every webhook receiver does, whatever the network: find the app that checks its
signature, read the raw body within bounds, store the verified event. The routes (api/hooks.py)
and the fast path (fastpath.py) share it."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from services.inbox.counters import InboxCounters
from services.inbox.intake import ReceiptWriter
from services.inbox.networks import identify
from services.inbox.settings import InboxSettings, NetworkApp
from services.inbox.signatures import BadChallenge, check_challenge, check_signed_challenge
from shared.errors import BadRequest, DomainError, NotFound, Unavailable


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
