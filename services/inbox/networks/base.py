"""What a network's inbound pack answers: is this webhook the network's own, which event and
account is it, and what messages does it carry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from services.inbox.normalise import Identity, Item, UnreadableBody
from services.inbox.settings import InboxSettings, NetworkApp
from shared.errors import BadRequest, Unauthorized


class Refused(Unauthorized):
    """The signature is missing, wrong or stale: nothing from this request is kept."""


def parse_json(body: bytes) -> Any:
    """The event, which every JSON-posting network sends as an object."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("The webhook body is not valid JSON.", field="body") from exc
    if not isinstance(payload, dict):
        raise BadRequest("The webhook body is not a JSON object.", field="body")
    return payload


class Inbound:
    """One network's webhooks. `verify` runs in the receiver over the raw body (the route
    and the fast path both call it, so they cannot disagree); `identify` runs there too and
    must be cheap; `decode` and `normalise` run in the receipts worker."""

    network: ClassVar[str]

    def verify(
        self, settings: InboxSettings, app: NetworkApp, headers: Mapping[str, str], body: bytes
    ) -> Any:
        """The payload of a delivery the network signed; raises Refused (401) or BadRequest."""
        raise NotImplementedError

    def identify(self, payload: dict[str, Any], body: bytes) -> Identity:
        raise NotImplementedError

    def decode(self, body: bytes) -> Any:
        """The payload of a stored body, in the format the network sends."""
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UnreadableBody("not valid JSON") from exc

    def normalise(self, payload: dict[str, Any]) -> list[Item]:
        return []
