"""A giveaway the whole way, through the public API with every service a separate process:
the commitment posted under the post on the sandbox's X, comments entered, the draw made,
and the winners answered on the network with the saved reply."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import httpx

from tests.e2e.flows import connect_x_channel, local_wall_clock, new_workspace, wait_for


async def test_giveaway_end_to_end(platform):
    config = platform.config
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=10) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=10) as sandbox,
    ):
        key = await new_workspace(gateway, timezone="Asia/Jerusalem")
        auth = {"Authorization": f"Bearer {key}"}
        channel = await connect_x_channel(gateway, sandbox, key)
        account = channel["account"]["external_id"]
        r = await gateway.post(
            "/v1/posts",
            headers=auth,
            json={
                "text": f"Winter giveaway {uuid.uuid4().hex[:6]}: comment #winter and tag a friend",
                "targets": [{"channel_id": channel["id"]}],
                "schedule": {"now": True},
            },
        )
        assert r.status_code == 201, r.text
        post = r.json()

        async def published():
            body = (await gateway.get(f"/v1/posts/{post['id']}", headers=auth)).json()
            target = body["targets"][0]
            return target if target["status"] == "published" else None

        tweet = (await wait_for(published, what="the post to be published"))["external_id"]
        r = await gateway.post(
            "/v1/saved-replies",
            headers=auth,
            json={"name": "winner", "text": "You won, {author}! Check your DMs."},
        )
        assert r.status_code == 201, r.text
        saved = r.json()
        ends_local = local_wall_clock(8, "Asia/Jerusalem")

        async def created():
            # 422 until the inbox has heard the post was published.
            r = await gateway.post(
                "/v1/contests",
                headers=auth,
                json={
                    "post_ids": [post["id"]],
                    "starts_at": local_wall_clock(-60, "Asia/Jerusalem"),
                    "ends_at": ends_local,
                    "winners": 1,
                    "reserves": 1,
                    "rules": {"keyword": "#winter", "mentions": 1},
                    "winner_reply": {"saved_reply_id": saved["id"]},
                    "announce": True,
                },
            )
            return r.json() if r.status_code == 201 else None

        contest = await wait_for(created, what="the contest to be accepted")

        async def announced():
            held = (await sandbox.get("/_sandbox/x/posts")).json()["items"]
            return [
                p for p in held if p["reply_to"] == tweet and contest["commitment"] in p["text"]
            ]

        await wait_for(announced, what="the commitment to be posted under the post")
        for author, text in (
            ("Dana", "#winter @pat"),
            ("Eli", "#winter @sam"),
            ("Fay", "I want it"),
            ("Gil", "#winter alone"),
        ):
            r = await sandbox.post(
                f"/_sandbox/x/posts/{tweet}/comments", json={"text": text, "author": author}
            )
            assert r.status_code == 201, r.text

        async def closed():
            body = (await gateway.get(f"/v1/contests/{contest['id']}", headers=auth)).json()
            return body["status"] == "closed"

        async def all_in():
            r = await gateway.get(f"/v1/contests/{contest['id']}/entries", headers=auth)
            return r.json()["total"] == 4

        await wait_for(all_in, what="the comments to reach the inbox")
        await wait_for(closed, what="the entry window to close")
        assert datetime.now(UTC) >= datetime.fromisoformat(contest["ends_at"])
        r = await gateway.post(f"/v1/contests/{contest['id']}/draw", headers=auth)
        assert r.status_code == 200, r.text
        result = r.json()
        assert hashlib.sha256(result["seed"].encode()).hexdigest() == contest["commitment"]
        [winner] = result["winners"]
        [reserve] = result["reserves"]
        assert {winner["author"], reserve["author"]} == {"dana", "eli"}

        async def answered():
            held = (await sandbox.get("/_sandbox/x/posts", params={"account": account})).json()[
                "items"
            ]
            return [p for p in held if p["reply_to"] == winner["comment_id"]]

        [reply] = await wait_for(answered, what="the winner to be answered on X")
        assert "You won" in reply["text"]
