"""Several processes of a service share the work, and nothing is done twice."""

from __future__ import annotations

from collections import Counter

import httpx

from deploy.runner import Platform
from tests.e2e.conftest import platform_config
from tests.e2e.flows import connect_x_channel, new_workspace
from tests.faults.burst import Progress, create_burst, settle

POSTS = 60


def counter_total(metrics_text: str, name: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_replicas_share_dispatch_and_publishing_without_duplicates(
    database_url, bus_prefix, tmp_path
):
    config = platform_config(database_url, bus_prefix, tmp_path=tmp_path)
    config.replicas = {"scheduler": 2, "publisher": 3}
    platform = Platform(config)
    try:
        await platform.start()
        async with (
            httpx.AsyncClient(base_url=config.url("gateway"), timeout=15) as gateway,
            httpx.AsyncClient(base_url=config.url("sandbox"), timeout=15) as sandbox,
        ):
            key = await new_workspace(gateway, timezone="UTC")
            auth = {"Authorization": f"Bearer {key}"}
            channel = await connect_x_channel(gateway, sandbox, key)
            progress = Progress(total=POSTS)
            confirmed = await create_burst(
                config.url("gateway"), auth, channel["id"], progress, lead=3
            )
            assert len(confirmed) == POSTS, progress.refused
            final = await settle(config.url("gateway"), auth, confirmed, seconds=240)
            statuses = Counter(t["status"] for t in final.values())
            assert statuses == Counter({"published": POSTS}), (
                statuses,
                [
                    (t["status"], t.get("error"))
                    for t in final.values()
                    if t["status"] != "published"
                ],
            )
            held = (
                await sandbox.get(
                    "/_sandbox/x/posts", params={"account": channel["account"]["external_id"]}
                )
            ).json()
            assert Counter(p["text"] for p in held["items"]) == Counter(p.text for p in confirmed)
            assert held["duplicates"] == 0

            work: dict[str, list[float]] = {"scheduler": [], "publisher": []}
            names = {
                "scheduler": "herald_scheduler_dispatched_total",
                "publisher": "herald_publisher_attempts_total",
            }
            for (name, _replica), proc in platform.processes.items():
                if name in work:
                    text = (
                        await httpx.AsyncClient().get(f"http://127.0.0.1:{proc.port}/metrics")
                    ).text
                    work[name].append(counter_total(text, names[name]))
            assert len(work["scheduler"]) == 2 and len(work["publisher"]) == 3
            assert sum(work["scheduler"]) == POSTS, work
            # Shared, not all on one process (each replica claims from the same table).
            assert sum(1 for n in work["publisher"] if n > 0) >= 2, work
    finally:
        platform.stop()
