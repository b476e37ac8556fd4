"""The TypeScript client walks the README against the running platform: every step it prints
happened (channel, scheduled, published with the network's id, a comment answered, analytics)."""

from __future__ import annotations

import asyncio
import json
import os

from deploy.console import CLIENT, ensure_built
from tests.console.conftest import new_workspace


async def test_the_typescript_client_walks_the_readme(platform):
    await asyncio.to_thread(ensure_built)  # builds clients/typescript (tsc) with the console
    gateway, sandbox = platform.config.url("gateway"), platform.config.url("sandbox")
    key = await new_workspace(gateway, "Europe/London")
    walk = await asyncio.create_subprocess_exec(
        "node",
        str(CLIENT / "dist" / "examples" / "walk.js"),
        env={**os.environ, "HERALD_URL": gateway, "HERALD_KEY": key, "SANDBOX_URL": sandbox},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(walk.communicate(), timeout=180)
    assert walk.returncode == 0, err.decode()
    steps = {s["step"]: s for s in map(json.loads, out.decode().splitlines())}
    assert list(steps) == [
        "channel",
        "scheduled",
        "published",
        "conversation",
        "replied",
        "analytics",
    ]
    assert steps["channel"]["network"] == "x" and steps["channel"]["status"] == "active"
    assert steps["published"]["external_id"]
    assert steps["conversation"]["network"] == "x"
    assert steps["replied"]["direction"] == "outbound"
    assert steps["analytics"]["post_id"] == steps["scheduled"]["id"]
