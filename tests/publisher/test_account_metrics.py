"""Account numbers (followers): `metrics.collect` with `account=True` is answered from the
network's profile endpoints, served by the sandbox."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from services.metrics.models import Channel, LatestValue
from services.publisher.app import create_app
from shared.events import CollectItem, Envelope, MetricsCollect, Sample
from tests.metrics.support import connect_channel, feed, quiet_app
from tests.publisher.support import Tap, post_due, put_faults, send, wait_consuming
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan
from tests.support.waits import until

# network → the name the network itself gives its follower count.
FOLLOWER_NAMES = {
    "x": "followers_count",
    "mastodon": "followers_count",
    "bluesky": "followersCount",
    "instagram": "followers_count",
    "tiktok": "follower_count",
    "youtube": "subscriberCount",
}
# Networks whose API (as the sandbox serves it) gives no follower count.
WITHOUT_FOLLOWERS = ("facebook", "linkedin", "threads")


async def set_followers(sandbox_url: str, network: str, account: dict[str, Any], n: int) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.put(
            f"/_sandbox/{network}/accounts/{account['external_id']}/followers",
            json={"followers": n},
        )
        assert r.status_code == 200, r.text


def account_collect(channel: dict[str, Any], **extra: Any) -> MetricsCollect:
    return MetricsCollect(
        channel_id=uuid.UUID(channel["id"]),
        network=channel["network"],
        posts=extra.pop("posts", []),
        account=True,
        **extra,
    )


def answer_for(tap: Tap, channel: dict[str, Any]) -> dict[str, Any] | None:
    for envelope in tap.of("metrics.fetched"):
        if envelope.data["channel_id"] == channel["id"]:
            return envelope.data
    return None


async def wait_answer(tap: Tap, channel: dict[str, Any], seconds: float = 30) -> dict[str, Any]:
    found: dict[str, Any] = await until(
        lambda: answer_for(tap, channel),
        timeout=seconds,
        what=f"metrics.fetched for {channel['network']}",
    )
    return found


async def test_account_request_answers_each_networks_follower_count(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    rnd = random.Random()
    async with Tap(settings.exchange_name, ["metrics.fetched"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("metrics"))
        channels = {
            n: await connect(app, sandbox_url, workspace, network=n) for n in FOLLOWER_NAMES
        }
        counts = {n: rnd.randint(1, 1_000_000) for n in FOLLOWER_NAMES}
        for network, channel in channels.items():
            await set_followers(sandbox_url, network, channel["account"], counts[network])
        await send(
            settings.exchange_name,
            *(Envelope.of(account_collect(c), workspace_id=workspace) for c in channels.values()),
        )
        for network, channel in channels.items():
            fetched = await wait_answer(tap, channel)
            assert fetched["network"] == network
            [sample] = fetched["samples"]
            assert sample["metric"] == "followers", network
            assert sample["network_metric"] == FOLLOWER_NAMES[network], network
            assert sample["value"] == counts[network], network
            # An account sample names no post.
            assert sample["post_id"] is None and sample["external_id"] is None


async def test_a_network_without_follower_counts_answers_them_missing_not_zero(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["metrics.fetched"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("metrics"))
        channels = [
            await connect(app, sandbox_url, workspace, network=n) for n in WITHOUT_FOLLOWERS
        ]
        for channel in channels:
            await set_followers(sandbox_url, channel["network"], channel["account"], 4321)
        await send(
            settings.exchange_name,
            *(Envelope.of(account_collect(c), workspace_id=workspace) for c in channels),
        )
        for channel in channels:
            fetched = await wait_answer(tap, channel)
            # Answered (so the metrics service stops asking), with the number left missing.
            assert [(s["metric"], s["value"]) for s in fetched["samples"]] == [
                ("followers", None)
            ], channel["network"]


async def test_posts_and_account_are_answered_together_after_a_token_refresh(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["post.published", "metrics.fetched"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("metrics"))
        channel = await connect(app, sandbox_url, workspace, network="x")
        due = post_due(channel=channel, text="Followers and likes")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        tweet_id = (await tap.wait("post.published"))[0].data["external_id"]
        followers = random.randint(10, 10_000)
        await set_followers(sandbox_url, "x", channel["account"], followers)
        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            await sandbox.post("/_sandbox/engagement/tick", json={"hours": 6})
        # Every token issued so far stops working: the read must refresh and ask again.
        await put_faults(sandbox_url, {"network": "x", "expire_tokens": True})
        collect = account_collect(
            channel, posts=[CollectItem(post_id=due.post_id, external_id=tweet_id)]
        )
        await send(settings.exchange_name, Envelope.of(collect, workspace_id=workspace))
        fetched = await wait_answer(tap, channel)
        account = [s for s in fetched["samples"] if s["post_id"] is None]
        posts = [s for s in fetched["samples"] if s["post_id"] is not None]
        assert [(s["metric"], s["value"]) for s in account] == [("followers", followers)]
        assert {s["post_id"] for s in posts} == {str(due.post_id)}
        assert {s["external_id"] for s in posts} == {tweet_id}
        assert "likes" in {s["metric"] for s in posts}


async def test_the_metrics_service_takes_the_answers_as_answered_and_missing_as_missing(
    publisher_settings, sandbox_url, make_settings
):
    """What the publisher answers, fed to the metrics service: the follower count is stored,
    a network without one is stored as missing (not 0), and neither is asked again before the
    next daily fetch."""
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    followers = random.randint(10, 10_000)
    async with Tap(settings.exchange_name, ["metrics.fetched"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("metrics"))
        x = await connect(app, sandbox_url, workspace, network="x")
        facebook = await connect(app, sandbox_url, workspace, network="facebook")
        await set_followers(sandbox_url, "x", x["account"], followers)
        await send(
            settings.exchange_name,
            *(Envelope.of(account_collect(c), workspace_id=workspace) for c in (x, facebook)),
        )
        answers = {c["network"]: await wait_answer(tap, c) for c in (x, facebook)}

    now = datetime.now(UTC)
    async with quiet_app(make_settings) as (metrics_app, runtime, _client):
        channels = {
            network: await connect_channel(runtime, workspace=workspace, network=network, now=now)
            for network in answers
        }
        # The daily request goes out (what the publisher answered above).
        await metrics_app.state.loops["collector"].run_once(now=now)
        for network, answer in answers.items():
            await feed(
                runtime,
                workspace=workspace,
                channel_id=channels[network],
                network=network,
                now=now,
                samples=[Sample.model_validate(s) for s in answer["samples"]],
            )
        async with runtime.sessions() as session:
            latest = {
                row.channel_id: row.value
                for row in await session.scalars(
                    select(LatestValue).where(
                        LatestValue.metric == "followers", LatestValue.post_id.is_(None)
                    )
                )
            }
            due = {
                row.channel_id: row.account_due_at
                for row in await session.scalars(
                    select(Channel).where(Channel.channel_id.in_(channels.values()))
                )
            }
        assert latest == {channels["x"]: followers, channels["facebook"]: None}
        # Answered: the next fetch is a day away, not the short wait of an unanswered one.
        for network, channel_id in channels.items():
            assert due[channel_id] is not None
            assert due[channel_id] >= now + timedelta(hours=23), network
