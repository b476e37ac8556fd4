"""What each network accepts, for clients building a composer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.publisher.adapters import ADAPTERS
from services.publisher.api.deps import ReaderDep
from shared.networks import capabilities

router = APIRouter(prefix="/v1/networks", tags=["networks"])


@router.get("")
async def list_networks(principal: ReaderDep) -> dict[str, Any]:
    items = []
    for rules in capabilities():
        # `publishing` says whether this Herald can publish there yet, so a client does not
        # offer a network whose posts would only fail.
        items.append({**rules, "publishing": rules["network"] in ADAPTERS})
    return {"items": items}
