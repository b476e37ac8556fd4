"""Schemathesis against the merged OpenAPI of the running platform: no 5xx, and no response
that contradicts the document (status, content type, body schema).

Every operation is called with examples from the document, with the boundary values of each
field (the coverage phase: longest strings, NUL characters, the widest integers) and with
generated data, valid and not, through the gateway to the real services, with an owner key
of a workspace that has a channel and a post, so that some generated calls reach real data.
The rate limits are lifted (the `api_platform` fixture), so generated calls reach the
services' logic rather than a 429.
The run is bounded: EXAMPLES per operation (`HERALD_FUZZ_EXAMPLES`, which `make fuzz` raises for
a long run) with a fixed seed, so it stays within a couple of minutes on a loaded machine.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx

from tests.gateway.world import build_world, hook_receiver

ST = str(Path(sys.executable).with_name("st"))
EXAMPLES = int(os.environ.get("HERALD_FUZZ_EXAMPLES", "15"))
SEED = os.environ.get("HERALD_FUZZ_SEED", "20261123")
# Seconds for the whole run (15 examples took about 90 s on a busy machine).
BUDGET = float(os.environ.get("HERALD_FUZZ_SECONDS", str(max(200, EXAMPLES * 12))))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


async def test_no_server_error_and_every_response_matches_the_document(api_platform, tmp_path):
    config = api_platform.config
    async with hook_receiver() as hook_url:
        world = await build_world(api_platform, hook_url=hook_url)
    gateway = config.url("gateway")
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as gw:
        r = await gw.get("/openapi.json")
        assert r.status_code == 200
        operations = sum(
            1 for item in r.json()["paths"].values() for method in item if method != "parameters"
        )
    # The world's identifiers for every path parameter, so generated calls reach real data
    # (a delete may remove one early: later calls then meet a 404, which is fine too).
    known = {**world.ids, "workspace_id": world.workspace_id, "code": world.link_code}
    known["key_id"] = known.pop("analyst_key_id")
    (tmp_path / "schemathesis.toml").write_text(
        "[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in sorted(known.items()))
    )
    proc = await asyncio.create_subprocess_exec(
        ST,
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
        "run",
        f"{gateway}/openapi.json",
        "--header",
        f"Authorization: Bearer {world.owner_key}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES),
        # One worker: Python 3.11's `ast` module is not safe to use from two threads at once
        # ("AST constructor recursion depth mismatch"), and hypothesis parses the source of
        # the generators' lambdas while two workers draw.
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--no-color",
        "--max-failures",
        "20",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), BUDGET)
    report = out.decode(errors="replace")
    (tmp_path / "schemathesis.txt").write_text(report)
    tested = re.search(r"Tested:\s+(\d+)", report)
    assert proc.returncode == 0, report[-20_000:]
    assert tested is not None and int(tested.group(1)) >= operations - 2, report[-5000:]
