"""The conventions every endpoint shares, checked on the running platform from its OpenAPI:
cursor pagination with `next_cursor` and a `Link` header on every list, `X-Request-Id`
accepted or generated and echoed, and timestamps in RFC 3339 UTC."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
from PIL import Image

from tests.gateway.test_isolation_sweep import bodies
from tests.gateway.world import World, build_world, eventually, hook_receiver, ok

FROM = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
TO = (datetime.now(UTC) + timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
LATER = (datetime.now(UTC) + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%S")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")
# The scheduler answers a post's version mismatch with 409 (its tests hold it to that), where
# every other resource answers 412.
STALE_REFUSED = {"/v1/posts/{post_id}": (409, 412)}
# Lists whose items a test cannot make on demand: crisis alerts need a surge of messages,
# contests posts already on their network (tests/inbox/test_contests.py pages through them).
CANNOT_FILL = {"/v1/alerts", "/v1/contests"}


async def second_of_everything(gw: httpx.AsyncClient, world: World, sandbox_url: str) -> None:
    """A second item in every list the world has one of, so `limit=1` leaves a next page."""
    h, v = world.owner, world.ids
    ok(
        await gw.post(
            "/v1/posts",
            json={
                "text": "second",
                "targets": [{"channel_id": v["channel_id"]}],
                "schedule": {"at": LATER, "timezone": "UTC"},
            },
            headers=h,
        )
    )
    ok(
        await gw.post(
            f"/v1/posts/{v['post_id']}/template", json={"name": "second template"}, headers=h
        )
    )
    ok(await gw.post("/v1/campaigns", json={"name": f"{world.marker} second"}, headers=h))
    ok(await gw.post("/v1/links", json={"url": "https://example.com/second"}, headers=h))
    for size in (16, 24):
        picture = io.BytesIO()
        Image.new("RGB", (size, size), (20, 90, 200)).save(picture, "PNG")
        ok(await gw.post("/v1/media", files={"file": ("p.png", picture.getvalue())}, headers=h))
    ok(await gw.post("/v1/reports", json={"from": FROM, "to": LATER}, headers=h), 202)
    ok(
        await gw.post(
            "/v1/webhooks",
            json={"url": "https://example.com/second", "events": ["post.published"]},
            headers=h,
        )
    )
    ok(await gw.post(f"/v1/webhooks/{v['webhook_id']}/test", headers=h), 200, 201, 202)
    invitation = ok(
        await gw.post(
            "/v1/members/invitations",
            json={"email": f"second-{world.marker}@example.com", "role": "editor"},
            headers=h,
        )
    )
    ok(await gw.post("/v1/members/accept", json={"token": invitation["token"]}))
    ok(await gw.post("/v1/reports/schedules", json={"day_of_month": 2}, headers=h), 201)
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as sandbox:
        account = ok(await sandbox.post("/_sandbox/x/accounts", json={"name": "second"}))
        ok(
            await gw.post(
                "/v1/channels",
                json={"network": "x", "credentials": account["credentials"]},
                headers=h,
            )
        )
        channel = ok(await gw.get(f"/v1/channels/{v['channel_id']}", headers=h))
        ok(
            await sandbox.post(
                "/_sandbox/x/messages",
                json={"account": channel["external_id"], "text": "second", "author": "other"},
            ),
            201,
        )

    async def two_conversations() -> httpx.Response:
        r = await gw.get("/v1/conversations", headers=h)
        if r.status_code == 200 and len(r.json()["items"]) < 2:
            return httpx.Response(200, json={"items": []}, request=r.request)
        return r

    await eventually(two_conversations, what="a second conversation")


def list_operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every GET that pages with `cursor` (the document's own word for it)."""
    out = []
    for path, item in doc["paths"].items():
        op = item.get("get")
        names = {p["name"] for p in (op or {}).get("parameters", []) if p["in"] == "query"}
        if op and {"cursor", "limit"} <= names:
            out.append((path, op))
    return out


def fill(path: str, world: World) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: world.ids[m.group(1)], path)


def required_query(op: dict[str, Any]) -> dict[str, str]:
    values = {"from": FROM, "to": TO}
    return {
        p["name"]: values[p["name"]]
        for p in op.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


def timestamps(node: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in timestamps(v, k)]
    if isinstance(node, list):
        return [t for v in node for t in timestamps(v, key)]
    if isinstance(node, str) and key.endswith("_at"):
        return [(key, node)]
    return []


def item_key(item: dict[str, Any]) -> str:
    return str(item.get("id") or item.get("target_id") or sorted(item.items()))


async def test_every_list_pages_with_next_cursor_and_link(api_platform):
    config = api_platform.config
    async with (
        hook_receiver() as hook_url,
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gw,
    ):
        world = await build_world(api_platform, hook_url=hook_url)
        await second_of_everything(gw, world, config.url("sandbox"))
        doc = (await gw.get("/openapi.json")).json()
        lists = list_operations(doc)
        assert len(lists) >= 6, [p for p, _ in lists]
        exercised, problems = [], []
        for path, op in lists:
            url = fill(path, world)
            params = required_query(op)
            everything = await gw.get(url, params={**params, "limit": 100}, headers=world.owner)
            assert everything.status_code == 200, f"{path}: {everything.text}"
            expected = [item_key(i) for i in everything.json()["items"]]
            if len(expected) < 2:
                if path not in CANNOT_FILL:
                    problems.append(f"{path}: only {len(expected)} item(s) to page through")
                continue
            exercised.append(path)
            seen: list[str] = []
            r = await gw.get(url, params={**params, "limit": 1}, headers=world.owner)
            pages = 0
            while True:
                pages += 1
                assert r.status_code == 200, f"{path}: {r.text}"
                page = r.json()
                seen += [item_key(i) for i in page["items"]]
                if page["next_cursor"] is None:
                    if "link" in r.headers:
                        problems.append(f"{path}: a Link on the last page")
                    break
                link = r.headers.get("link", "")
                found = re.fullmatch(r'<([^>]+)>; rel="next"', link)
                if found is None:
                    problems.append(f"{path}: next_cursor without a Link header ({link!r})")
                    break
                if pages > len(expected) + 1:
                    problems.append(f"{path}: more pages than items")
                    break
                # The client follows the Link exactly as given, relative to where it asked.
                r = await gw.get(urljoin(str(r.request.url), found.group(1)), headers=world.owner)
            if seen != expected:
                problems.append(f"{path}: pages gave {seen}, the whole list is {expected}")
        assert not problems, "\n".join(problems)
        assert len(exercised) >= 6, exercised


async def test_request_ids_and_timestamps_everywhere(api_platform):
    config = api_platform.config
    async with (
        hook_receiver() as hook_url,
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gw,
    ):
        world = await build_world(api_platform, hook_url=hook_url)
        doc = (await gw.get("/openapi.json")).json()
        problems, checked_stamps = [], 0
        for path, item in doc["paths"].items():
            op = item.get("get")
            if op is None or not path.startswith("/v1/") or "{" in fill_or_none(path, world):
                continue
            if any(
                p["in"] == "query" and p.get("required") and p["name"] not in ("from", "to")
                for p in op.get("parameters", [])
            ):
                continue  # needs what only a network gives (an OAuth redirect, a code)
            url = fill_or_none(path, world)
            sent_id = f"req-{world.marker}-{len(problems)}"
            r = await gw.get(
                url,
                params=required_query(op),
                headers={
                    **world.owner,
                    "X-Request-Id": sent_id,
                },
            )
            if r.headers.get("x-request-id") != sent_id:
                problems.append(f"{path}: X-Request-Id {r.headers.get('x-request-id')!r}")
            generated = await gw.get(url, params=required_query(op), headers=world.owner)
            if not generated.headers.get("x-request-id"):
                problems.append(f"{path}: no X-Request-Id generated")
            if r.status_code == 200 and r.headers.get("content-type", "").startswith(
                "application/json"
            ):
                for key, value in timestamps(r.json()):
                    checked_stamps += 1
                    if not RFC3339_UTC.match(value):
                        problems.append(f"{path}: {key}={value!r} is not RFC 3339 UTC")
        assert not problems, "\n".join(problems)
        assert checked_stamps >= 10


def fill_or_none(path: str, world: World) -> str:
    """The path with the world's ids; a parameter it has nothing for stays as `{name}`."""
    values = {**world.ids, "network": "x"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), path)


async def test_every_resource_has_an_etag_and_refuses_a_stale_if_match(api_platform):
    config = api_platform.config
    async with (
        hook_receiver() as hook_url,
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gw,
    ):
        world = await build_world(api_platform, hook_url=hook_url)
        doc = (await gw.get("/openapi.json")).json()
        table = bodies(world)
        problems, checked = [], []
        for path, item in doc["paths"].items():
            url = fill_or_none(path, world)
            if "get" not in item or not path.startswith("/v1/") or "{" in url:
                continue
            for method in ("put", "patch", "delete"):
                if method not in item:
                    continue
                before = await gw.get(url, headers=world.owner)
                tag = before.headers.get("etag")
                if before.status_code != 200 or not tag:
                    problems.append(f"GET {path}: {before.status_code}, ETag {tag!r}")
                    continue
                body = table.get((method, path))
                kwargs: dict[str, Any] = {} if body is None else {"json": body}
                r = await gw.request(
                    method.upper(), url, headers={**world.owner, "If-Match": '"999"'}, **kwargs
                )
                after = await gw.get(url, headers=world.owner)
                if r.status_code not in STALE_REFUSED.get(path, (412,)):
                    problems.append(f"{method.upper()} {path} with a stale tag: {r.status_code}")
                if after.headers.get("etag") != tag:
                    problems.append(f"{method.upper()} {path} changed despite the stale tag")
                checked.append(f"{method.upper()} {path}")
                if method == "delete":
                    continue
                r = await gw.request(
                    method.upper(), url, headers={**world.owner, "If-Match": tag}, **kwargs
                )
                if not 200 <= r.status_code < 300:
                    problems.append(f"{method.upper()} {path} with the current tag: {r.text}")
                    continue
                now = (await gw.get(url, headers=world.owner)).headers.get("etag")
                if r.status_code == 200 and r.headers.get("etag") != now:
                    problems.append(
                        f"{method.upper()} {path}: answered ETag {r.headers.get('etag')!r}, "
                        f"the resource's is {now!r}"
                    )
        assert not problems, "\n".join(problems)
        assert len(checked) >= 8, checked
