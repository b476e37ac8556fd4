"""ETag / If-Match on conversations: a change made on a stale version is refused."""

from __future__ import annotations

from tests.conftest import identity
from tests.inbox.conftest import Inbox
from tests.inbox.test_members import add_member
from tests.inbox.test_x_webhooks import ACCOUNT
from tests.inbox.x_comments import ids, of_size, send


async def test_patch_with_a_stale_etag_is_refused(inbox: Inbox) -> None:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    await send(inbox, "1800000000000000501", "hello there")
    [cid] = await inbox.wait_for(lambda: of_size(ids(inbox), 1))
    owner = identity(inbox.workspace_id)
    url = f"/v1/conversations/{cid}"
    dana = await add_member(inbox, "dana@example.com")

    r = await inbox.client.get(url, headers=owner)
    etag = r.headers["etag"]
    assert etag == f'"{r.json()["version"]}"'

    # A teammate assigns it meanwhile.
    r = await inbox.client.patch(
        url, json={"assignee": dana}, headers={**owner, "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    newer = r.headers["etag"]
    assert newer != etag

    # Our edit based on the old read is refused, and changes nothing.
    r = await inbox.client.patch(
        url, json={"status": "resolved"}, headers={**owner, "If-Match": etag}
    )
    assert r.status_code == 412
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "If-Match"
    assert (await inbox.client.get(url, headers=owner)).json()["status"] == "open"

    # A new message from the audience changes the ETag too.
    [root] = await inbox.fetch("SELECT external_id FROM inbox.messages")
    await send(inbox, "1800000000000000502", "anyone?", reply_to=root["external_id"])

    async def moved() -> bool:
        return (await inbox.client.get(url, headers=owner)).headers["etag"] != newer

    await inbox.wait_for(moved)
    r = await inbox.client.patch(
        url, json={"status": "resolved"}, headers={**owner, "If-Match": newer}
    )
    assert r.status_code == 412

    current = (await inbox.client.get(url, headers=owner)).headers["etag"]
    r = await inbox.client.patch(
        url, json={"status": "resolved"}, headers={**owner, "If-Match": f"W/{current}"}
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    # `*` and no If-Match at all stay unconditional.
    r = await inbox.client.patch(url, json={"tags": ["vip"]}, headers={**owner, "If-Match": "*"})
    assert r.status_code == 200
    r = await inbox.client.patch(url, json={"priority": "high"}, headers=owner)
    assert r.status_code == 200
