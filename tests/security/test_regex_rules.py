"""Regex rules cannot stall the inbox: capped per workspace, budgeted per message, off the loop.

A workspace could add any number of backtracking regexes; each message then ran every one of
them (up to the per-search time limit each) on the event loop that also receives the
networks' webhooks and answers the API, for every workspace.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.e2e.flows import wait_for
from tests.security.sec_inbox import connect, doors, sandbox_account

BACKTRACKING = r"(?m)^(a|a)*$"  # exponential on a line of a's that does not end the line


async def test_backtracking_rules_are_capped_and_run_off_the_loop(platform) -> None:
    async with doors(platform) as d:
        account = await sandbox_account(d.sandbox, "x", "Acme")
        await connect(d, "x", account)
        r = await d.gateway.post(
            "/v1/inbox/rules",
            headers=d.auth,
            json={"name": "orders", "match": "keyword", "pattern": "order", "tags": ["orders"]},
        )
        assert r.status_code == 201, r.text

        # A pattern the engine multiplies out when compiling: gigabytes before any match.
        bomb = "(?:(?:(?:a{65535}){65535}){65535})"
        r = await d.gateway.post(
            "/v1/inbox/rules",
            headers=d.auth,
            json={"name": "bomb", "match": "regex", "pattern": bomb},
        )
        assert r.status_code == 422 and r.json()["field"] == "pattern", r.text

        # The attack: as many backtracking regexes as the workspace will take.
        accepted = refused = 0
        for n in range(60):
            r = await d.gateway.post(
                "/v1/inbox/rules",
                headers=d.auth,
                json={
                    "name": f"slow {n}",
                    "match": "regex",
                    "pattern": BACKTRACKING,
                    "position": n + 1,
                },
            )
            if r.status_code == 201:
                accepted += 1
                continue
            assert r.status_code == 409, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            refused += 1
        assert accepted == 20 and refused == 40, (accepted, refused)

        # A message that makes every one of them backtrack, while the inbox keeps answering.
        inbox = platform.config.url("inbox")
        latencies: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            async with httpx.AsyncClient(base_url=inbox, timeout=30) as client:
                while not done.is_set():
                    started = time.monotonic()
                    assert (await client.get("/healthz")).status_code == 200
                    latencies.append(time.monotonic() - started)
                    await asyncio.sleep(0.02)

        prober = asyncio.create_task(probe())
        try:
            r = await d.sandbox.post(
                "/_sandbox/x/messages",
                json={
                    "account": account["external_id"],
                    "author": "fan",
                    "text": "my order\n" + "a" * 40 + "!",
                },
            )
            assert r.status_code == 201, r.text

            async def tagged() -> list:
                r = await d.gateway.get("/v1/conversations", headers=d.auth)
                return [c for c in r.json()["items"] if c["tags"] == ["orders"]]

            await wait_for(tagged, seconds=60, what="the message, tagged by the keyword rule")
        finally:
            done.set()
            await prober
        # Matching took the worker thread, not the loop: the inbox answered all along. On the
        # loop, the 20 rules held it for a minute and more; the bound is far from both that
        # and a busy machine's pauses.
        assert latencies and max(latencies) < 10.0, max(latencies)
