"""Blocking a person on their network, for the inbox's moderation (`action: block`).

Mastodon: `POST /api/v1/accounts/:id/block`. X: `POST /2/users/:me/blocking` with
`target_user_id` (the token needs `block.write`). Bluesky: an `app.bsky.graph.block` record in
the account's repo, its key fixed by the person so a repeat writes nothing new. The other
networks offer no block an account's app can use: refused with the reason (the inbox refuses
them before asking, with the same words).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.publisher.adapters.base import Adapter, NetworkError, bearer
from services.publisher.adapters.bluesky import record_key
from services.publisher.webhook_calls import Refused, checked
from shared.networks.blocking import BLOCK_REFUSALS

BLUESKY_BLOCK = "app.bsky.graph.block"


async def block(
    adapter: Adapter, credentials: dict[str, Any], *, account_id: str, person_id: str | None
) -> None:
    """Blocks `person_id` from the account `account_id`. Raises Refused where the network
    does not let an account block, NetworkError when the call fails."""
    network = adapter.network
    if network in BLOCK_REFUSALS:
        raise Refused(BLOCK_REFUSALS[network])
    if not person_id:
        raise Refused("the author of this message is not known, so they cannot be blocked")
    if network == "mastodon":
        url = adapter.url(f"/api/v1/accounts/{person_id}/block", credentials)
        await checked(adapter, "POST", url, headers=bearer(credentials))
    elif network == "x":
        await checked(
            adapter,
            "POST",
            adapter.url(f"/2/users/{account_id}/blocking"),
            json={"target_user_id": person_id},
            headers=bearer(credentials),
        )
    elif network == "bluesky":
        await _bluesky_block(adapter, credentials, account_id=account_id, person_id=person_id)
    else:
        raise Refused(f"{network} does not let an account block people")


async def _bluesky_block(
    adapter: Adapter, credentials: dict[str, Any], *, account_id: str, person_id: str
) -> None:
    record = {
        "$type": BLUESKY_BLOCK,
        "subject": person_id,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    try:
        await checked(
            adapter,
            "POST",
            f"{adapter.base_url}/xrpc/com.atproto.repo.createRecord",
            json={
                "repo": credentials.get("did") or account_id,
                "collection": BLUESKY_BLOCK,
                "rkey": record_key(f"block:{person_id}"),
                "record": record,
            },
            headers=bearer(credentials),
        )
    except NetworkError as exc:
        # The key is the person's: the record that holds it is an earlier block of theirs.
        if exc.error_class != "duplicate":
            raise
