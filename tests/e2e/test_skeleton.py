"""One post the whole way: scheduled through the gateway, published on the sandbox's X, its
first comment in the inbox — every service a separate process over real HTTP, PostgreSQL and
RabbitMQ."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.flows import connect_x_channel, local_wall_clock, new_workspace, wait_for


async def test_one_post_end_to_end(platform):
    config = platform.config
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=10) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=10) as sandbox,
    ):
        key = await new_workspace(gateway, timezone="Asia/Jerusalem")
        auth = {"Authorization": f"Bearer {key}"}
        channel = await connect_x_channel(gateway, sandbox, key)
        assert channel["network"] == "x" and channel["status"] == "active"

        text = f"Winter launch {uuid.uuid4().hex[:6]}"
        r = await gateway.post(
            "/v1/posts",
            headers=auth,
            json={
                "text": text,
                "targets": [{"channel_id": channel["id"]}],
                "schedule": {
                    "at": local_wall_clock(2, "Asia/Jerusalem"),
                    "timezone": "Asia/Jerusalem",
                },
            },
        )
        assert r.status_code == 201, r.text
        post = r.json()
        assert post["targets"][0]["status"] == "scheduled"

        async def published():
            body = (await gateway.get(f"/v1/posts/{post['id']}", headers=auth)).json()
            target = body["targets"][0]
            return target if target["status"] == "published" else None

        target = await wait_for(published, what="the post to be published")
        assert target["external_id"] and target["url"]

        held = (
            await sandbox.get(
                "/_sandbox/x/posts", params={"account": channel["account"]["external_id"]}
            )
        ).json()
        assert [p["text"] for p in held["items"]] == [text]
        assert held["duplicates"] == 0

        async def tracked():
            r = await gateway.get(f"/v1/analytics/posts/{post['id']}", headers=auth)
            return r.status_code == 200

        await wait_for(tracked, what="metrics to register the post")

        r = await sandbox.post(
            f"/_sandbox/x/posts/{target['external_id']}/comments",
            json={"text": "Can't wait for this!", "author": "fan42"},
        )
        assert r.status_code in (200, 201), r.text

        async def in_inbox():
            r = await gateway.get("/v1/conversations", headers=auth)
            items = r.json()["items"]
            return [c for c in items if c.get("post_id") == post["id"]]

        conversations = await wait_for(in_inbox, what="the comment to reach the inbox")
        assert conversations[0]["network"] == "x"
        assert conversations[0]["kind"] == "comment"


async def test_bad_input_gets_problem_json_and_changes_nothing(platform):
    config = platform.config
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=10) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=10) as sandbox,
    ):
        key = await new_workspace(gateway)
        other_key = await new_workspace(gateway)
        auth = {"Authorization": f"Bearer {key}"}
        foreign = await connect_x_channel(gateway, sandbox, other_key)

        cases = [
            (await gateway.get("/v1/nothing-here", headers=auth), 404),
            (await gateway.get("/v1/posts", headers={"Authorization": "Bearer nope"}), 401),
            (await gateway.post("/v1/workspaces", json={"name": "x", "timezone": "UTC"}), 401),
            (
                await gateway.post(
                    "/v1/posts",
                    headers={**auth, "content-type": "application/json"},
                    content=b'{"text": "unterminated',
                ),
                422,
            ),
            (
                await gateway.post(
                    "/v1/posts",
                    headers=auth,
                    json={
                        "text": "hi",
                        "targets": [{"channel_id": foreign["id"]}],
                        "schedule": {"now": True},
                    },
                ),
                422,
            ),
        ]
        for response, status in cases:
            assert response.status_code == status, (response.request.url, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        assert cases[-1][0].json()["field"] == "targets[0].channel_id"

        held = (
            await sandbox.get(
                "/_sandbox/x/posts", params={"account": foreign["account"]["external_id"]}
            )
        ).json()
        assert held["items"] == []
