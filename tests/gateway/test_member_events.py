"""Who joins and leaves a workspace is told to the other services (the inbox assigns only
members), through the gateway's outbox."""

from sqlalchemy import select

from shared.events import Envelope
from tests.gateway.support import bearer, running_gateway
from tests.gateway.test_members import invite, join


async def test_joining_and_removal_are_announced(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        ws = await gw.workspace()
        owner = ws["api_key"]
        inv = await invite(gw, owner, "omar@example.com", "editor")
        joined = await join(gw, inv["token"], name="Omar")
        member_id = joined["member"]["id"]
        r = await gw.client.delete(f"/v1/members/{member_id}", headers=bearer(owner))
        assert r.status_code == 204

        outbox = gw.runtime.tables.outbox
        async with gw.runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(outbox.c.routing_key, outbox.c.body)
                    .where(outbox.c.routing_key.in_(["member.added", "member.removed"]))
                    .order_by(outbox.c.id)
                )
            ).all()
        events = [Envelope.model_validate_json(row.body) for row in rows]
        assert [e.type for e in events] == ["member.added", "member.removed"]
        added, removed = events
        assert str(added.workspace_id) == ws["id"] == str(removed.workspace_id)
        assert added.data == {
            "member_id": member_id, "email": "omar@example.com", "name": "Omar", "role": "editor"
        }
        assert removed.data == {"member_id": member_id}
