"""Inbound, one pack per network: its webhook handshake and signature, how its events are
identified and routed to a channel, and how its payloads become messages. The receiving
route (api/hooks.py), the fast path and the receipts worker find a network's pack here.
"""

from __future__ import annotations

from typing import Any

from services.inbox.networks import linkedin, meta, tiktok, x, youtube
from services.inbox.networks.base import Inbound
from services.inbox.normalise import Identity, Item, unknown_identity

# A network without a pack of its own stores JSON.
_JSON = Inbound()

PACKS: dict[str, Inbound] = {
    pack.network: pack
    for pack in (
        x.X(),
        linkedin.LinkedIn(),
        tiktok.TikTok(),
        youtube.YouTube(),
        *(meta.Meta(network) for network in meta.META),
    )
}


def identify(network: str, payload: Any, body: bytes) -> Identity:
    pack = PACKS.get(network)
    if pack is None or not isinstance(payload, dict):
        return unknown_identity(body)
    return pack.identify(payload, body)


def normalise(network: str, payload: dict[str, Any]) -> list[Item]:
    pack = PACKS.get(network)
    return pack.normalise(payload) if pack is not None else []


def decode(network: str, body: bytes) -> Any:
    """The payload of a stored webhook body, in the format its network uses."""
    return PACKS.get(network, _JSON).decode(body)
