"""A comment made on the sandbox's X reaches the inbox as X would send it: signed, pushed."""

from __future__ import annotations

import httpx

from sandbox.app import create_app as create_sandbox
from sandbox.settings import SandboxSettings
from tests.inbox.conftest import Inbox
from tests.support.servers import serve


async def test_sandbox_comment_arrives_linked_to_the_published_post(
    start_inbox, inbox_port: int
) -> None:
    sandbox = create_sandbox(
        SandboxSettings(
            webhook_base_url=f"http://127.0.0.1:{inbox_port}/hooks",
            # The receiver is under test here; subscriptions have tests of their own.
            require_subscriptions=False,
        )
    )
    async with serve(sandbox) as sandbox_url, httpx.AsyncClient(base_url=sandbox_url) as sb:
        app = (await sb.get("/_sandbox/x/app")).json()
        account = (await sb.post("/_sandbox/x/accounts", json={"name": "Brand"})).json()
        token = account["credentials"]["access_token"]
        created = await sb.post("/x/2/tweets", json={"text": "We launched!"},
                                headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.text
        tweet_id = created.json()["data"]["id"]

        apps = {"x": {"client_secret": app["client_secret"]}}
        inbox: Inbox
        async with start_inbox(network_apps=apps) as inbox:
            # The sandbox checks the URL the way X does (CRC) before it uses it.
            registered = await sb.put("/_sandbox/x/webhook",
                                      json={"url": f"{inbox.url}/hooks/x"})
            assert registered.status_code == 200, registered.text
            channel_id = await inbox.connect_channel(
                network="x", external_id=account["external_id"]
            )
            post_id = await inbox.publish_post(
                channel_id=channel_id, network="x", external_id=tweet_id
            )
            await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts"))

            comment = await sb.post(f"/_sandbox/x/posts/{tweet_id}/comments",
                                    json={"text": "Congrats, this looks amazing!",
                                          "author": "Dana"})
            assert comment.status_code == 201, comment.text

            async def linked() -> list:
                return (await inbox.conversations(post_id=str(post_id)))["items"]

            [conversation] = await inbox.wait_for(linked)
            assert conversation["kind"] == "comment"
            assert conversation["channel_id"] == str(channel_id)
            assert conversation["sentiment"] == "positive"
            deliveries = (await sb.get("/_sandbox/deliveries", params={"network": "x"})).json()
            assert [d["status_code"] for d in deliveries["items"]] == [200]
