"""LinkedIn's webhook receiver over real HTTP: the challenge, signatures with and without the
`hmacsha256=` prefix, and a comment made on the sandbox arriving signed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from sandbox.app import create_app as create_sandbox
from sandbox.settings import SandboxSettings
from tests.inbox.network_webhooks import (
    APPS,
    LI_SECRET,
    hexmac,
    items,
    receipts,
)
from tests.support.servers import serve

ORG = "urn:li:organization:90001"
LI_POST = "urn:li:share:7100000000000000001"


def li_comment(comment_no: int, text: str) -> bytes:
    urn = f"urn:li:comment:(urn:li:activity:7100000000000000009,{comment_no})"
    return orjson.dumps({
        "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
        "notifications": [{
            "action": "COMMENT", "organizationalEntity": ORG, "sourcePost": LI_POST,
            "generatedActivity": urn, "actor": "urn:li:person:abc123",
            "decoratedGeneratedActivity": {"comment": {
                "entity": LI_POST, "text": text, "fullName": "Jo Reader",
                "owner": "urn:li:person:abc123"}},
            "lastModifiedAt": int(time.time() * 1000),
        }],
    })


async def test_linkedin_challenge_and_signatures_with_and_without_prefix(start_inbox) -> None:
    async with start_inbox(network_apps=APPS) as inbox:
        code = "f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b"  # LinkedIn's challengeCode is a UUID
        r = await inbox.client.get("/hooks/linkedin", params={"challengeCode": code})
        assert r.status_code == 200
        assert r.json() == {"challengeCode": code,
                            "challengeResponse": hexmac(LI_SECRET, code.encode())}

        channel_id = await inbox.connect_channel(network="linkedin", external_id=ORG)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
        first = li_comment(1, "Great news, congratulations!")
        r = await inbox.client.post("/hooks/linkedin", content=first, headers={
            "X-LI-Signature": "hmacsha256=" + hexmac(LI_SECRET, first)})
        assert r.status_code == 200, r.text
        second = li_comment(2, "This is terrible service")
        r = await inbox.client.post("/hooks/linkedin", content=second,
                                    headers={"X-LI-Signature": hexmac(LI_SECRET, second)})
        assert r.status_code == 200, r.text
        wrong = li_comment(3, "forged")
        r = await inbox.client.post("/hooks/linkedin", content=wrong, headers={
            "X-LI-Signature": "hmacsha256=" + hexmac("not-the-secret", wrong)})
        assert r.status_code == 401
        r = await inbox.client.post("/hooks/linkedin", content=wrong)
        assert r.status_code == 401

        found = await inbox.wait_for(
            lambda: _at_least(items(inbox, network="linkedin"), 2))
        assert {c["sentiment"] for c in found} == {"positive", "negative"}
        assert {c["channel_id"] for c in found} == {str(channel_id)}
        assert all(c["kind"] == "comment" for c in found)
        assert len(await receipts(inbox, "linkedin")) == 2


async def _at_least(coro: Any, n: int) -> Any:
    got = await coro
    return got if len(got) >= n else None


async def test_sandbox_linkedin_comment_arrives_signed(start_inbox, inbox_port: int) -> None:
    sandbox = create_sandbox(
        SandboxSettings(
            webhook_base_url=f"http://127.0.0.1:{inbox_port}/hooks",
            # The receiver is under test here; subscriptions have tests of their own.
            require_subscriptions=False,
        )
    )
    async with serve(sandbox) as sandbox_url, httpx.AsyncClient(base_url=sandbox_url) as sb:
        app = (await sb.get("/_sandbox/linkedin/app")).json()
        account = (await sb.post("/_sandbox/linkedin/accounts", json={"name": "Brand"})).json()
        token = account["credentials"]["access_token"]
        created = await sb.post(
            "/linkedin/rest/posts",
            json={"author": account["external_id"], "commentary": "We launched!",
                  "visibility": "PUBLIC", "distribution": {"feedDistribution": "MAIN_FEED"},
                  "lifecycleState": "PUBLISHED"},
            headers={"Authorization": f"Bearer {token}", "Linkedin-Version": "202411",
                     "X-Restli-Protocol-Version": "2.0.0"},
        )
        assert created.status_code == 201, created.text
        post_urn = created.headers["x-restli-id"]
        async with start_inbox(network_apps={"linkedin": {
                "client_secret": app["client_secret"]}}) as inbox:
            # The sandbox validates the URL with a challengeCode, as LinkedIn does.
            registered = await sb.put("/_sandbox/linkedin/webhook",
                                      json={"url": f"{inbox.url}/hooks/linkedin"})
            assert registered.status_code == 200, registered.text
            channel_id = await inbox.connect_channel(network="linkedin",
                                                     external_id=account["external_id"])
            post_id = await inbox.publish_post(channel_id=channel_id, network="linkedin",
                                               external_id=post_urn)
            await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts"))
            comment = await sb.post(f"/_sandbox/linkedin/posts/{post_urn}/comments",
                                    json={"text": "Wonderful, well done!", "author": "Dana"})
            assert comment.status_code == 201, comment.text
            [conversation] = await inbox.wait_for(lambda: items(inbox, post_id=str(post_id)))
            assert conversation["sentiment"] == "positive"
            deliveries = (await sb.get("/_sandbox/deliveries",
                                       params={"network": "linkedin"})).json()
            assert [d["status_code"] for d in deliveries["items"]] == [200]
