"""A giveaway on a Facebook post and an Instagram post, with comments made on the sandbox's
networks (delivered to the inbox as signed webhooks): the draw picks only qualifying entries,
the seed matches the commitment, and the standalone verifier reproduces the winners. And the
automatic draw happens by itself, even across a restart of the inbox."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from sandbox.app import create_app as create_sandbox
from sandbox.settings import SandboxSettings
from services.inbox.settings import InboxSettings
from tests.conftest import identity
from tests.inbox.conftest import Inbox, _running
from tests.inbox.test_contest_draw import VERIFIER
from tests.inbox.test_contests import Feed
from tests.inbox.test_handling import of_type
from tests.inbox.test_meta_webhooks import APPS
from tests.support.servers import serve
from tests.support.waits import until


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def network_posts(sb: httpx.AsyncClient, sandbox_url: str) -> dict[str, Any]:
    """A Facebook Page post and an Instagram media, published on the fake networks."""
    fb = (await sb.post("/_sandbox/facebook/accounts", json={"name": "Ísbúðin"})).json()
    page = fb["credentials"]["page_id"]
    fb_post = await sb.post(
        f"/facebook/v21.0/{page}/feed",
        headers=bearer(fb["credentials"]["access_token"]),
        data={"message": "Gjafaleikur! #ísveisla"},
    )
    assert fb_post.status_code == 200, fb_post.text
    ig = (await sb.post("/_sandbox/instagram/accounts", json={"name": "Ísbúðin"})).json()
    h = bearer(ig["credentials"]["access_token"])
    user = ig["credentials"]["ig_user_id"]
    container = await sb.post(
        f"/instagram/v21.0/{user}/media",
        headers=h,
        data={"image_url": f"{sandbox_url}/_sandbox/media/sample.jpg", "caption": "Gjafaleikur!"},
    )
    assert container.status_code == 200, container.text
    creation = container.json()["id"]

    async def finished() -> bool:
        r = await sb.get(f"/instagram/v21.0/{creation}?fields=status_code", headers=h)
        return bool(r.json().get("status_code") == "FINISHED")

    await until(finished, timeout=10, what="the container finished")
    media = await sb.post(
        f"/instagram/v21.0/{user}/media_publish", headers=h, data={"creation_id": creation}
    )
    assert media.status_code == 200, media.text
    return {
        "page": fb["external_id"],
        "fb_post": fb_post.json()["id"],
        "ig_user": ig["external_id"],
        "media": media.json()["id"],
    }


async def meta_apps(sb: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    apps = {}
    for network in ("facebook", "instagram"):
        app = (await sb.get(f"/_sandbox/{network}/app")).json()
        apps[network] = {"client_secret": app["client_secret"], "verify_token": app["verify_token"]}
    return apps


async def test_giveaway_on_facebook_and_instagram_drawn_and_verified(
    start_inbox: Callable[..., Any], inbox_port: int, tmp_path: Path
) -> None:
    sandbox = create_sandbox(
        SandboxSettings(
            webhook_base_url=f"http://127.0.0.1:{inbox_port}/hooks",
            # The receiver is under test here; subscriptions have tests of their own.
            require_subscriptions=False,
        )
    )
    async with serve(sandbox) as sandbox_url, httpx.AsyncClient(base_url=sandbox_url) as sb:
        ids = await network_posts(sb, sandbox_url)
        inbox: Inbox
        async with start_inbox(
            network_apps=await meta_apps(sb), contest_draw_delay_seconds=3600
        ) as inbox:
            owner = identity(inbox.workspace_id)
            fb_channel = await inbox.connect_channel(network="facebook", external_id=ids["page"])
            ig_channel = await inbox.connect_channel(
                network="instagram", external_id=ids["ig_user"]
            )
            fb_post = await inbox.publish_post(
                channel_id=fb_channel, network="facebook", external_id=ids["fb_post"]
            )
            ig_post = await inbox.publish_post(
                channel_id=ig_channel, network="instagram", external_id=ids["media"]
            )

            async def both_known() -> bool:
                rows = await inbox.fetch("SELECT 1 FROM inbox.published_posts")
                channels = await inbox.fetch("SELECT 1 FROM inbox.channels")
                return len(rows) == 2 and len(channels) == 2

            await inbox.wait_for(both_known)
            saved = (
                await inbox.client.post(
                    "/v1/saved-replies",
                    headers=owner,
                    json={"name": "winner", "text": "Til hamingju {author}! Sendu okkur skilaboð."},
                )
            ).json()
            seen = await inbox.spy()
            # A whole second, as ends are written: the networks stamp comments to the second.
            ends = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
            r = await inbox.client.post(
                "/v1/contests",
                headers=owner,
                json={
                    "name": "Ísveisla",
                    "post_ids": [str(fb_post), str(ig_post)],
                    "starts_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                    "ends_at": ends.isoformat(),
                    "winners": 2,
                    "reserves": 1,
                    "rules": {
                        "keyword": "#ísveisla",
                        "mentions": 1,
                        "staff": ["Sam Staff"],
                        "blocked": ["instagram:tobbitroll"],
                    },
                    "winner_reply": {"saved_reply_id": saved["id"]},
                    "announce": True,
                },
            )
            assert r.status_code == 201, r.text
            contest = r.json()

            async def comment(network: str, author: str, text: str) -> None:
                post = ids["fb_post"] if network == "facebook" else ids["media"]
                made = await sb.post(
                    f"/_sandbox/{network}/posts/{post}/comments",
                    json={"text": text, "author": author},
                )
                assert made.status_code == 201, made.text

            in_time = [
                ("facebook", "Anna Berg", "#ísveisla pistasíu! @jon"),
                ("instagram", "Anna Berg", "#ísveisla líka hér @gudrun"),  # same person
                ("facebook", "Bjorn", "Vanilla @kari"),  # no keyword
                ("facebook", "Sam Staff", "#ísveisla @boss"),  # staff
                ("instagram", "Cecilia", "#ísveisla súkkulaði @dora"),
                ("instagram", "Dagur", "#ÍSVEISLA @elin"),
                ("facebook", "Eva", "#ísveisla"),  # nobody mentioned
                ("facebook", "Fanney", "#ísveisla jarðarber @gummi"),
                ("instagram", "Tobbi Troll", "#ísveisla @spam"),  # blocked
            ]
            for network, author, text in in_time:
                await comment(network, author, text)
            assert datetime.now(UTC) < ends, "the machine was too slow to comment in time"

            async def stored(n: int) -> bool:
                rows = await inbox.fetch("SELECT 1 FROM inbox.messages WHERE direction = 'inbound'")
                return len(rows) >= n

            await inbox.wait_for(lambda: stored(len(in_time)), timeout=30)

            async def status() -> str:
                got = await inbox.client.get(f"/v1/contests/{contest['id']}", headers=owner)
                return str(got.json()["status"])

            # The due loop closes the window at the end time by itself.
            await inbox.wait_for(lambda: _is(status(), "closed"), timeout=30)
            await comment("instagram", "Hekla", "#ísveisla of seint @ingi")  # after the end
            await inbox.wait_for(lambda: stored(len(in_time) + 1), timeout=30)

            r = await inbox.client.post(f"/v1/contests/{contest['id']}/draw", headers=owner)
            assert r.status_code == 200, r.text
            result = r.json()
            assert hashlib.sha256(result["seed"].encode()).hexdigest() == contest["commitment"]

            entries = (
                await inbox.client.get(f"/v1/contests/{contest['id']}/entries", headers=owner)
            ).json()
            assert entries["state"] == "drawn" and entries["total"] == len(in_time) + 1
            reasons = {
                (e["network"], e["author"]): [x.split(":")[0] for x in e["reasons"]]
                for e in entries["items"]
            }
            assert reasons == {
                ("facebook", "Anna Berg"): [],
                ("instagram", "annaberg"): ["duplicate"],
                ("facebook", "Bjorn"): ["keyword"],
                ("facebook", "Sam Staff"): ["staff"],
                ("instagram", "cecilia"): [],
                ("instagram", "dagur"): [],
                ("facebook", "Eva"): ["mentions"],
                ("facebook", "Fanney"): [],
                ("instagram", "tobbitroll"): ["blocked"],
                ("instagram", "hekla"): ["window"],
            }
            qualifying = {e["comment_id"] for e in entries["items"] if e["qualifies"]}
            picks = result["winners"] + result["reserves"]
            assert len(result["winners"]) == 2 and len(result["reserves"]) == 1
            assert {p["comment_id"] for p in picks} <= qualifying
            assert len({p["comment_id"] for p in picks}) == 3
            assert result["qualifying"] == 4

            # Anyone can recompute the draw from the revealed seed and the exported list.
            csv_file = tmp_path / "entries.csv"
            csv_file.write_text(
                (
                    await inbox.client.get(
                        f"/v1/contests/{contest['id']}/entries",
                        headers={**owner, "Accept": "text/csv"},
                    )
                ).text,
                encoding="utf-8",
            )
            contest_file = tmp_path / "contest.json"
            contest_file.write_text(json.dumps(result), encoding="utf-8")
            run = await verify(contest_file, csv_file)
            assert run.returncode == 0, run.stdout + run.stderr
            assert run.stdout.count("OK") == 3
            # A different seed (or list) does not pass.
            tampered = {**result, "seed": "0" * 64}
            contest_file.write_text(json.dumps(tampered), encoding="utf-8")
            run = await verify(contest_file, csv_file)
            assert run.returncode == 1 and "MISMATCH" in run.stdout

            # The commitment went out under both posts, and the winners were answered with
            # the saved reply, through the reply path.
            requested = await inbox.wait_for(
                lambda: (
                    of_type(seen, "reply.requested")
                    if len(of_type(seen, "reply.requested")) >= 4
                    else None
                )
            )
            announced = [e.data for e in requested if contest["commitment"] in e.data["text"]]
            assert sorted(a["in_reply_to"] for a in announced) == sorted(
                [ids["fb_post"], ids["media"]]
            )
            told = [e.data for e in requested if e.data["text"].startswith("Til hamingju")]
            assert sorted(t["in_reply_to"] for t in told) == sorted(
                w["comment_id"] for w in result["winners"]
            )
            assert [e.data["contest_id"] for e in of_type(seen, "contest.closed")] == [
                contest["id"]
            ]
            [drawn] = await inbox.wait_for(lambda: of_type(seen, "contest.drawn"))
            assert drawn.data["seed"] == result["seed"]
            trail = (
                await inbox.client.get(f"/v1/contests/{contest['id']}/activity", headers=owner)
            ).json()
            actions = [a["action"] for a in trail]
            assert actions == [
                "created",
                "announced",
                "announced",
                "closed",
                "drawn",
                "winner_told",
                "winner_told",
            ]


async def verify(contest: Path, entries: Path) -> subprocess.CompletedProcess[str]:
    """Runs the standalone verifier as anyone would: its own process, files as input."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(VERIFIER), "--contest", str(contest), "--entries", str(entries)],
        capture_output=True,
        text=True,
        check=False,
    )


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)


async def test_the_draw_happens_by_itself_across_a_restart(
    make_settings: Callable[..., InboxSettings], inbox_port: int
) -> None:
    settings = make_settings(InboxSettings, network_apps=APPS, contest_draw_delay_seconds=1)
    async with _running(settings, inbox_port, None) as inbox:
        workspace = inbox.workspace_id
        feed = await Feed(inbox).setup()
        now = datetime.now(UTC)
        for n, name in enumerate(("Anna", "Bjorn", "Cecilia")):
            await feed.facebook(f"900{n}", name, "#ís", now)
        await feed.settled()
        ends = datetime.now(UTC) + timedelta(seconds=2)
        r = await inbox.client.post(
            "/v1/contests",
            headers=identity(workspace),
            json={
                "post_ids": [str(feed.fb_post)],
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": ends.isoformat(),
                "winners": 1,
                "reserves": 1,
            },
        )
        assert r.status_code == 201, r.text
        contest = r.json()
    # The inbox is down when the entry window ends and when the draw falls due.
    await until(
        lambda: datetime.now(UTC) >= ends + timedelta(seconds=1),
        timeout=60,
        every=0.1,
        what="the entry window over",
    )
    async with _running(settings, inbox_port, None) as inbox:
        inbox.workspace_id = workspace

        async def drawn() -> dict[str, Any] | None:
            got = (
                await inbox.client.get(f"/v1/contests/{contest['id']}", headers=identity(workspace))
            ).json()
            return got if got["status"] == "drawn" else None

        result = await inbox.wait_for(drawn, timeout=30)
        assert result["drawn_by"] == "schedule"
        assert hashlib.sha256(result["seed"].encode()).hexdigest() == contest["commitment"]
        assert len(result["winners"]) == 1 and len(result["reserves"]) == 1
        trail = (
            await inbox.client.get(
                f"/v1/contests/{contest['id']}/activity", headers=identity(workspace)
            )
        ).json()
        # Both steps were overdue at the restart: closed (and said so), then drawn.
        assert [a["action"] for a in trail] == ["created", "closed", "drawn"]
