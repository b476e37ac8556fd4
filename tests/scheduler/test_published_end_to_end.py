"""The whole platform (separate processes, the sandbox as the networks): a post that went out
is fixed and pulled on its network, and a post canceled or moved at the last moment never
goes out at its old time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from deploy.runner import Platform
from tests.conftest import delete_bus_objects
from tests.e2e.conftest import platform_config
from tests.e2e.flows import new_workspace, wait_for

RACED = 12


@pytest.fixture
async def clients(
    database_url: str, bus_prefix: str, tmp_path
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    config = platform_config(database_url, bus_prefix, tmp_path=tmp_path)
    running = Platform(config)
    try:
        await running.start()
        async with (
            httpx.AsyncClient(base_url=config.url("gateway"), timeout=10) as gateway,
            httpx.AsyncClient(base_url=config.url("sandbox"), timeout=10) as sandbox,
        ):
            yield gateway, sandbox
    finally:
        running.stop()
        await delete_bus_objects(bus_prefix, kinds=("queues",))


async def connect(
    gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient, auth: dict[str, str], network: str
) -> dict[str, Any]:
    account = (await sandbox.post(f"/_sandbox/{network}/accounts", json={"name": "Acme"})).json()
    r = await gateway.post(
        "/v1/channels",
        json={"network": network, "credentials": account["credentials"], "name": "Acme"},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    channel: dict[str, Any] = r.json()
    channel["account"] = account
    return channel


async def on_network(sandbox: httpx.AsyncClient, channel: dict[str, Any]) -> list[dict[str, Any]]:
    r = await sandbox.get(
        f"/_sandbox/{channel['network']}/posts",
        params={"account": channel["account"]["external_id"]},
    )
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def wall_clock(at: datetime) -> str:
    return at.replace(tzinfo=None).isoformat(timespec="milliseconds")


async def plan(gateway, auth, channel, text: str, at: datetime) -> dict[str, Any]:
    r = await gateway.post(
        "/v1/posts",
        headers=auth,
        json={
            "text": text,
            "targets": [{"channel_id": channel["id"]}],
            "schedule": {"at": wall_clock(at), "timezone": "UTC"},
        },
    )
    assert r.status_code == 201, r.text
    post: dict[str, Any] = r.json()
    return post


async def target_of(gateway, auth, post_id: str) -> dict[str, Any] | None:
    r = await gateway.get(f"/v1/posts/{post_id}", headers=auth)
    target: dict[str, Any] = r.json()["targets"][0]
    return target


async def test_a_published_post_is_fixed_then_pulled_on_its_network(clients):
    gateway, sandbox = clients
    auth = {"Authorization": f"Bearer {await new_workspace(gateway, timezone='UTC')}"}
    mastodon = await connect(gateway, sandbox, auth, "mastodon")
    r = await gateway.post(
        "/v1/posts",
        headers=auth,
        json={"text": "Teh launch", "targets": [{"channel_id": mastodon["id"]}],
              "schedule": {"now": True}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]

    async def published():
        target = await target_of(gateway, auth, post_id)
        return target if target and target["status"] == "published" else None

    live = await wait_for(published, what="the post published")
    r = await gateway.get(f"/v1/posts/{post_id}", headers=auth)
    r = await gateway.patch(
        f"/v1/posts/{post_id}",
        headers={**auth, "If-Match": r.headers["ETag"]},
        json={"text": "The launch"},
    )
    assert r.status_code == 200, r.text

    async def edited():
        target = await target_of(gateway, auth, post_id)
        return target if target and (target["edited_at"] or target["remote_error"]) else None

    target = await wait_for(edited, what="the network's answer to the edit")
    assert target["remote_error"] is None and target["text"] == "The launch"
    [held] = [p for p in await on_network(sandbox, mastodon) if p["id"] == live["external_id"]]
    assert held["text"] == "The launch" and held["edited_at"] is not None

    r = await gateway.delete(f"/v1/posts/{post_id}", headers=auth)
    assert r.status_code == 200, r.text

    async def deleted():
        target = await target_of(gateway, auth, post_id)
        return target if target and (target["deleted_at"] or target["remote_error"]) else None

    target = await wait_for(deleted, what="the network's answer to the deletion")
    assert target["remote_error"] is None
    held = [p for p in await on_network(sandbox, mastodon) if p["id"] == live["external_id"]]
    assert all(p["deleted"] for p in held)


async def _race(gateway, sandbox, auth, change) -> None:
    """Posts due at one instant, each changed (`change`) a little before or after it. `change`
    says whether the scheduler stopped the post (it was still only planned) or not (it had
    been handed to the publisher, or was out already): a stopped post never reaches the
    network at its old time, one not stopped does, once."""
    x = await connect(gateway, sandbox, auth, "x")
    due = datetime.now(UTC) + timedelta(seconds=4)
    texts = [f"raced {i} {uuid.uuid4().hex[:6]}" for i in range(RACED)]
    posts = [await plan(gateway, auth, x, text, due) for text in texts]
    # Nothing raced after this one: once it is out, any raced post would be too.
    await plan(gateway, auth, x, "sentinel", due + timedelta(seconds=1))

    async def change_at(index: int, post: dict[str, Any]) -> bool:
        at = due + timedelta(milliseconds=-300 + 50 * index)
        # The moment is the point: the changes straddle the due time.
        await asyncio.sleep(max((at - datetime.now(UTC)).total_seconds(), 0))
        stopped: bool = await change(post)
        return stopped

    stopped = await asyncio.gather(*(change_at(i, p) for i, p in enumerate(posts)))

    async def sentinel_out():
        texts_out = {p["text"] for p in await on_network(sandbox, x)}
        return "sentinel" in texts_out or None

    await wait_for(sentinel_out, what="the sentinel post on the network")

    async def not_stopped_out():
        texts_out = {p["text"] for p in await on_network(sandbox, x)}
        going = {t for t, halted in zip(texts, stopped, strict=True) if not halted}
        return going <= texts_out or None

    await wait_for(not_stopped_out, what="the posts not stopped, out")
    out = [p["text"] for p in await on_network(sandbox, x)]
    for text, halted in zip(texts, stopped, strict=True):
        assert out.count(text) == (0 if halted else 1), (text, halted)


async def test_a_post_canceled_at_the_last_moment_never_goes_out(clients):
    gateway, sandbox = clients
    auth = {"Authorization": f"Bearer {await new_workspace(gateway, timezone='UTC')}"}

    async def cancel(post: dict[str, Any]) -> bool:
        r = await gateway.delete(f"/v1/posts/{post['id']}", headers=auth)
        # 409: being published; 200 with a removal asked of the network: it was out already.
        assert r.status_code in (200, 409), r.text
        return r.status_code == 200 and r.json()["targets"][0]["status"] == "canceled"

    await _race(gateway, sandbox, auth, cancel)


async def test_a_post_moved_at_the_last_moment_never_goes_out_at_its_old_time(clients):
    gateway, sandbox = clients
    auth = {"Authorization": f"Bearer {await new_workspace(gateway, timezone='UTC')}"}
    later = wall_clock(datetime.now(UTC) + timedelta(hours=2))

    async def move(post: dict[str, Any]) -> bool:
        r = await gateway.patch(
            f"/v1/posts/{post['id']}",
            headers={**auth, "If-Match": f'"{post["version"]}"'},
            json={"schedule": {"at": later, "timezone": "UTC"}},
        )
        # 409: claimed (its version moved on); 422: out already, its time is history.
        assert r.status_code in (200, 409, 422), r.text
        return r.status_code == 200

    await _race(gateway, sandbox, auth, move)
