"""A receivers-only replica (INBOX_RUN_WORKERS=false) stores; another replica processes."""

from __future__ import annotations

from typing import Any

import httpx

from services.inbox.app import create_app
from tests.inbox.conftest import Inbox, x_sign
from tests.inbox.test_x_webhooks import ACCOUNT, delivery, tweet
from tests.support.servers import serve


async def test_receivers_only_replica_hands_receipts_to_the_workers(inbox: Inbox) -> None:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    receivers = create_app(inbox.settings.model_copy(update={"run_workers": False}))
    async with serve(receivers) as url, httpx.AsyncClient(base_url=url) as client:
        bodies = [
            delivery(
                tweet(
                    str(1800000000000001000 + n),
                    f"via the edge {n}",
                    author=str(1700000000000001000 + n),
                )
            )
            for n in range(5)
        ]
        for body in bodies:
            r = await client.post("/hooks/x", content=body, headers=x_sign(body))
            assert r.status_code == 200 and r.json()["duplicate"] is False
        # Stored by the receivers-only replica, which makes nothing of them itself …
        assert len(await inbox.fetch("SELECT 1 FROM inbox.receipts")) == 5
        assert receivers.state.counters.receipts.labels("x", "stored")._value.get() == 5

        # … and turned into conversations by the replica that runs the workers.
        async def five() -> Any:
            items = (await inbox.conversations())["items"]
            return items if len(items) == 5 else None

        await inbox.wait_for(five)
        rows = await inbox.fetch("SELECT DISTINCT status FROM inbox.receipts")
        assert [r["status"] for r in rows] == ["processed"]
