"""The audit log: entries from the gateway's own changes, reached through the outbox and the
bus, filtered, paged, kept once per event and forgotten by age."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.gateway import audit as gateway_audit
from services.gateway.models import AuditEntry
from shared import audit
from shared.consumer import Received
from shared.db import unit_of_work
from shared.events import AuditRecorded, Envelope
from tests.gateway.support import Gateway, bearer, running_gateway
from tests.support.waits import until


async def entries_until(
    gw: Gateway, key: str, check: Any, *, params: dict | None = None, seconds: float = 30
) -> list[dict]:
    """GET /v1/audit until `check(items)` holds (the entries travel over the bus)."""
    seen: list[list[dict]] = [[]]

    async def matching() -> list[dict] | None:
        r = await gw.client.get("/v1/audit", params=params or {}, headers=bearer(key))
        assert r.status_code == 200, r.text
        seen[0] = r.json()["items"]
        return seen[0] if check(seen[0]) else None

    try:
        found: list[dict] = await until(matching, timeout=seconds, every=0.2, what="audit entries")
    except AssertionError:
        raise AssertionError(f"audit entries never matched; last: {seen[0]!r}") from None
    return found


async def test_who_did_what_is_listed_filtered_and_paged(make_settings):
    async with running_gateway(make_settings, retention_interval_seconds=3600) as gw:
        ws = await gw.workspace()
        owner = ws["api_key"]
        owner_id = ws["api_key_id"]
        editor = await gw.key(owner, "editor", name="Writer")
        r = await gw.client.delete(f"/v1/api-keys/{editor['id']}", headers=bearer(owner))
        assert r.status_code == 204
        hook = await gw.client.post(
            "/v1/webhooks",
            json={"url": "https://hooks.example.com/h", "events": ["post.published"]},
            headers=bearer(owner),
        )
        assert hook.status_code == 201, hook.text
        wanted = {
            "workspace.created",
            "api_key.issued",
            "api_key.revoked",
            "webhook.created",
        }
        items = await entries_until(gw, owner, lambda items: wanted <= {i["action"] for i in items})
        # Newest first.
        assert [i["action"] for i in items] == [
            "webhook.created",
            "api_key.revoked",
            "api_key.issued",
            "workspace.created",
        ]
        revoked = items[1]
        assert revoked["actor"] == owner_id and revoked["actor_role"] == "owner"
        assert revoked["resource_type"] == "api_key" and revoked["resource_id"] == editor["id"]
        assert revoked["service"] == "gateway"
        assert revoked["details"] == {"name": "Writer", "role": "editor"}
        assert items[3]["actor"] == "platform-admin"
        assert "secret" not in str(items[0]["details"])

        async def listed(**params: Any) -> list[str]:
            r = await gw.client.get("/v1/audit", params=params, headers=bearer(owner))
            assert r.status_code == 200, r.text
            return [i["action"] for i in r.json()["items"]]

        assert await listed(action="api_key.") == ["api_key.revoked", "api_key.issued"]
        assert await listed(action="api_key.issued") == ["api_key.issued"]
        assert await listed(resource_type="webhook") == ["webhook.created"]
        assert await listed(resource_id=editor["id"]) == ["api_key.revoked", "api_key.issued"]
        assert await listed(actor="platform-admin") == ["workspace.created"]
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert await listed(**{"from": future}) == []
        assert len(await listed(to=future)) == 4

        # A page at a time, in the one cursor style.
        seen, cursor = [], None
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            r = await gw.client.get("/v1/audit", params=params, headers=bearer(owner))
            page = r.json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert 'rel="next"' in r.headers["link"]
        assert seen == [i["id"] for i in items]

        # Bad input names its field; only owners and admins read the log; workspaces apart.
        r = await gw.client.get("/v1/audit", params={"cursor": "x"}, headers=bearer(owner))
        assert r.status_code == 422 and r.json()["field"] == "cursor"
        r = await gw.client.get(
            "/v1/audit", params={"from": future, "to": future}, headers=bearer(owner)
        )
        assert r.status_code == 422 and r.json()["field"] == "to"
        analyst = await gw.key(owner, "analyst")
        r = await gw.client.get("/v1/audit", headers=bearer(analyst["api_key"]))
        assert r.status_code == 403
        other = await gw.workspace(name="Other")
        theirs = await entries_until(gw, other["api_key"], lambda items: len(items) == 1)
        assert theirs[0]["action"] == "workspace.created"


async def test_a_redelivered_entry_is_kept_once(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        workspace_id = uuid.uuid4()
        envelope = Envelope.of(
            AuditRecorded(
                actor="k1",
                actor_role="editor",
                action="post.approved",
                resource_type="post",
                resource_id="p1",
                service="scheduler",
            ),
            workspace_id=workspace_id,
        )
        for _ in range(2):
            async with unit_of_work(gw.runtime.sessions) as session:
                await gateway_audit.store(
                    session, Received(data=envelope.parsed(), envelope=envelope)
                )
        async with gw.runtime.sessions() as session:
            count = await session.scalar(
                select(func.count()).where(AuditEntry.workspace_id == workspace_id)
            )
        assert count == 1


async def test_entries_older_than_the_retention_setting_are_deleted(make_settings):
    async with running_gateway(
        make_settings, audit_retention_days=30, retention_interval_seconds=0.2
    ) as gw:
        ws = await gw.workspace()
        actor = audit.Actor(uuid.UUID(ws["id"]), "k1", "owner")
        now = datetime.now(UTC)
        async with unit_of_work(gw.runtime.sessions) as session:
            for age in (31, 29):
                session.add(
                    AuditEntry(
                        id=uuid.uuid4(),
                        workspace_id=actor.workspace_id,
                        occurred_at=now - timedelta(days=age),
                        actor=actor.id,
                        actor_role=actor.role,
                        action=f"post.aged_{age}",
                        resource_type="post",
                        resource_id="p",
                        service="scheduler",
                        details={},
                    )
                )
        items = await entries_until(
            gw,
            ws["api_key"],
            lambda items: [i["action"] for i in items] == ["workspace.created", "post.aged_29"],
        )
        assert len(items) == 2
