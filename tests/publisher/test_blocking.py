"""Blocking a person where the network allows it (`comment.moderation_requested` with
`action: block` → `comment.moderated`), refused with the reason elsewhere."""

import uuid

import httpx

from services.publisher.app import create_app
from shared.events import CommentModerationRequested, Envelope
from tests.conftest import identity
from tests.publisher.support import Tap, new_account, send, wait_consuming
from tests.support.servers import lifespan


async def someone_writes(sandbox: httpx.AsyncClient, network: str, account: dict) -> str:
    """A person writes to the account; returns their id on the network, as its API gives it."""
    r = await sandbox.post(f"/_sandbox/{network}/messages",
                           json={"account": account["external_id"], "text": "spam spam"})
    assert r.status_code == 201, r.text
    token = {"Authorization": f"Bearer {account['credentials'].get('access_token', '')}"}
    if network == "bluesky":
        return str(r.json()["sender"])
    if network == "x":
        events = (await sandbox.get("/x/2/dm_events", headers=token)).json()["data"]
        return str(events[0]["sender_id"])
    notes = (await sandbox.get("/mastodon/api/v1/notifications", headers=token)).json()
    return str(notes[0]["account"]["id"])


async def blocked_on(sandbox: httpx.AsyncClient, network: str, account: dict) -> list[str]:
    """Whom the account blocks, read back through the network's own API."""
    creds = account["credentials"]
    if network == "bluesky":
        r = await sandbox.get("/bluesky/xrpc/com.atproto.repo.listRecords",
                              params={"repo": creds["did"], "collection": "app.bsky.graph.block"})
        return [rec["value"]["subject"] for rec in r.json()["records"]]
    token = {"Authorization": f"Bearer {creds['access_token']}"}
    if network == "x":
        r = await sandbox.get(f"/x/2/users/{account['external_id']}/blocking", headers=token)
        return [u["id"] for u in r.json()["data"]]
    return [a["id"] for a in (await sandbox.get("/mastodon/api/v1/blocks", headers=token)).json()]


async def test_block_where_the_network_allows_it(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    networks = ("mastodon", "x", "bluesky", "facebook")
    accounts = {n: await new_account(sandbox_url, n) for n in networks}
    async with (
        Tap(settings.exchange_name, ["comment.moderated"]) as tap,
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p", headers=identity(workspace)
        ) as client,
        httpx.AsyncClient(base_url=sandbox_url) as sandbox,
    ):
        await wait_consuming(app, settings.queue_name("moderation"))
        channels = {}
        for network, account in accounts.items():
            r = await client.post(
                "/v1/channels", json={"network": network, "credentials": account["credentials"]}
            )
            assert r.status_code == 201, r.text
            channels[network] = r.json()

        def block(network: str, author_id: str) -> Envelope:
            return Envelope.of(
                CommentModerationRequested(
                    moderation_id=uuid.uuid4(), message_id=uuid.uuid4(),
                    conversation_id=uuid.uuid4(), channel_id=uuid.UUID(channels[network]["id"]),
                    network=network, external_id="m-1", action="block", requested_by="key:1",
                    author_id=author_id,
                ),
                workspace_id=workspace,
            )

        for count, network in enumerate(("mastodon", "x", "bluesky"), start=1):
            person = await someone_writes(sandbox, network, accounts[network])
            # Asked twice (a redelivery, a second click): blocked once, done both times.
            await send(settings.exchange_name, block(network, person))
            await send(settings.exchange_name, block(network, person))
            answers = await tap.wait("comment.moderated", count=2 * count)
            for answer in answers[-2:]:
                assert answer.data["network"] == network
                assert (answer.data["action"], answer.data["outcome"]) == ("block", "done"), (
                    answer.data
                )
                assert answer.data["author_id"] == person
            assert await blocked_on(sandbox, network, accounts[network]) == [person]

        await send(settings.exchange_name, block("facebook", "1234"))
        refused = (await tap.wait("comment.moderated", count=7))[6].data
        assert refused["outcome"] == "refused" and "Facebook Page" in refused["error"]
