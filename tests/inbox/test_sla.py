"""Response-time targets: set per priority, breaches found once, the list's `overdue`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import identity
from tests.inbox.conftest import ManualClock, x_sign
from tests.inbox.test_x_webhooks import ACCOUNT, delivery, tweet


async def test_targets_default_then_set_per_priority(inbox: Any) -> None:
    owner = identity(inbox.workspace_id)
    r = await inbox.client.get("/v1/inbox/sla", headers=owner)
    assert r.status_code == 200, r.text
    assert r.json() == {"low": 4320, "normal": 1440, "high": 240, "urgent": 60}

    r = await inbox.client.put("/v1/inbox/sla", json={"urgent": 15}, headers=owner)
    assert r.status_code == 200, r.text
    assert r.json() == {"low": 4320, "normal": 1440, "high": 240, "urgent": 15}

    # Bad input names the field and changes nothing.
    r = await inbox.client.put("/v1/inbox/sla", json={"high": 0, "low": 5}, headers=owner)
    assert r.status_code == 422
    assert r.json()["field"].endswith("high")
    r = await inbox.client.get("/v1/inbox/sla", headers=owner)
    assert r.json()["low"] == 4320 and r.json()["urgent"] == 15


async def test_a_conversation_past_its_target_is_overdue_and_said_once(start_inbox: Any) -> None:
    clock = ManualClock(datetime.now(UTC))
    async with start_inbox(clock=clock, sla_tick_seconds=0.1) as inbox:
        owner = identity(inbox.workspace_id)
        targets = {"low": 30, "normal": 30, "high": 30, "urgent": 30}
        r = await inbox.client.put("/v1/inbox/sla", json=targets, headers=owner)
        assert r.status_code == 200, r.text
        seen = await inbox.spy()
        await inbox.connect_channel(network="x", external_id=ACCOUNT)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
        body = delivery(tweet("1800000000000000901", "what time do you open?"))
        r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
        assert r.status_code == 200, r.text
        page = await inbox.wait_for(lambda: _nonempty(inbox.conversations()))
        [conversation] = page["items"]
        assert conversation["overdue"] is False
        assert (await inbox.conversations(overdue="true"))["items"] == []

        clock.advance(minutes=31)
        overdue = await inbox.wait_for(lambda: _nonempty(inbox.conversations(overdue="true")))
        assert [c["id"] for c in overdue["items"]] == [conversation["id"]]
        assert overdue["items"][0]["overdue"] is True
        assert (await inbox.conversations(overdue="false"))["items"] == []
        breaches = await inbox.wait_for(lambda: _breaches(seen))
        assert str(breaches[0].data["conversation_id"]) == conversation["id"]
        assert breaches[0].data["target_minutes"] == 30

        # Still unanswered an hour later: the same breach, not a new one. A second thread,
        # overdue as soon as it arrives, shows the loop has looked again since.
        clock.advance(minutes=60)
        [marked] = await inbox.fetch("SELECT sla_breached_at FROM inbox.conversations")
        body = delivery(tweet("1800000000000000902", "hello?", author="1700000000000000902"))
        r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
        assert r.status_code == 200, r.text
        both = await inbox.wait_for(lambda: _size(inbox.conversations(overdue="true"), 2))
        assert conversation["id"] in {c["id"] for c in both["items"]}
        breaches = await inbox.wait_for(lambda: _size_of(_breaches(seen), 2))
        assert sorted(str(b.data["conversation_id"]) for b in breaches) == sorted(
            c["id"] for c in both["items"]
        )
        [again] = await inbox.fetch(
            "SELECT sla_breached_at FROM inbox.conversations WHERE id = $1::uuid",
            conversation["id"],
        )
        assert again["sla_breached_at"] == marked["sla_breached_at"]


async def _nonempty(page: Any) -> Any:
    result = await page
    return result if result["items"] else None


def _breaches(seen: list[Any]) -> list[Any]:
    return [e for e in seen if e.type == "conversation.sla_breached"]


async def _size(page: Any, size: int) -> Any:
    result = await page
    return result if len(result["items"]) == size else None


def _size_of(items: list[Any], size: int) -> list[Any] | None:
    return items if len(items) >= size else None
