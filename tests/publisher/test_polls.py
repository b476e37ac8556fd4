"""Polls go out on the networks whose APIs have them, and their votes come back as metrics."""

import uuid

import httpx
import pytest

from services.publisher.adapters.threads import poll_counts
from services.publisher.app import create_app
from shared.events import CollectItem, Envelope, MetricsCollect
from tests.publisher.support import Tap, post_due, sandbox_posts, send, wait_consuming
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan

POLL = {"options": ["Tea", "Coffee", "Water"], "duration_minutes": 1440}


@pytest.mark.parametrize("network", ["x", "mastodon", "threads", "linkedin"])
async def test_a_poll_is_published_and_its_votes_come_back_with_the_metrics(
    publisher_settings, sandbox_url, network
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["post.*", "metrics.fetched"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("metrics"))
        channel = await connect(app, sandbox_url, workspace, network=network)
        # LinkedIn asks for the poll's own question; the others ask the post's text.
        poll = {**POLL, "question": "What do you drink?"} if network == "linkedin" else POLL
        due = post_due(channel=channel, text="What do you drink?", options={"poll": poll})
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        external_id = (await tap.wait("post.published"))[0].data["external_id"]

        [held] = (await sandbox_posts(sandbox_url, network, channel["external_id"]))["items"]
        assert [o["label"] for o in held["poll"]["options"]] == POLL["options"]
        assert held["poll"]["duration_minutes"] == 1440
        if network == "linkedin":
            assert held["poll"]["question"] == "What do you drink?"
        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            for option, count in ((0, 3), (1, 5)):
                r = await sandbox.post(
                    f"/_sandbox/{network}/posts/{external_id}/votes",
                    json={"option": option, "count": count},
                )
                assert r.status_code == 200, r.text
        collect = MetricsCollect(
            channel_id=uuid.UUID(channel["id"]),
            network=network,
            posts=[CollectItem(post_id=due.post_id, external_id=external_id)],
        )
        await send(settings.exchange_name, Envelope.of(collect, workspace_id=workspace))
        fetched = (await tap.wait("metrics.fetched"))[0].data
        values = {s["metric"]: s["value"] for s in fetched["samples"]}
        assert values["poll_votes"] == 8
        assert [values[f"poll_option_{i}_votes"] for i in (1, 2, 3)] == [3, 5, 0]


@pytest.mark.parametrize(
    ("network", "poll", "refusal"),
    [
        ("x", {"options": ["a" * 26, "b"], "duration_minutes": 60}, "25 characters"),
        ("x", {"options": ["a", "b"], "duration_minutes": 2}, "between 5 and 10080"),
        ("mastodon", {"options": ["only one"], "expires_in": 600}, "between 2 and 4"),
        ("mastodon", {"options": ["a", "b"], "expires_in": 60}, "out of range"),
    ],
)
async def test_the_sandbox_refuses_polls_the_network_would(sandbox_url, network, poll, refusal):
    """What validation keeps out is what the network itself refuses (the same limits)."""
    path = "/x/2/tweets" if network == "x" else "/mastodon/api/v1/statuses"
    body = {"text": "Vote", "status": "Vote", "poll": poll}
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        account = (await client.post(f"/_sandbox/{network}/accounts", json={})).json()
        token = account["credentials"]["access_token"]
        r = await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (400, 422), r.text
    assert refusal in r.text


@pytest.mark.parametrize(
    ("poll", "refusal"),
    [
        ({"question": "", "options": [{"text": "a"}, {"text": "b"}],
          "settings": {"duration": "ONE_DAY"}}, "1 to 140 characters"),
        ({"question": "Which?", "options": [{"text": "a" * 31}, {"text": "b"}],
          "settings": {"duration": "ONE_DAY"}}, "2 to 4 options of 1 to 30"),
        ({"question": "Which?", "options": [{"text": "a"}, {"text": "b"}],
          "settings": {"duration": "TWO_DAYS"}}, "is not one of"),
    ],
)
async def test_the_sandbox_refuses_linkedin_polls_linkedin_would(sandbox_url, poll, refusal):
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        account = (await client.post("/_sandbox/linkedin/accounts", json={})).json()
        token = account["credentials"]["access_token"]
        body = {
            "author": account["external_id"], "commentary": "Vote", "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"}, "lifecycleState": "PUBLISHED",
            "content": {"poll": poll},
        }
        headers = {"Authorization": f"Bearer {token}", "X-Restli-Protocol-Version": "2.0.0",
                   "LinkedIn-Version": "202411"}
        r = await client.post("/linkedin/rest/posts", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert refusal in r.text


def test_threads_counts_come_from_the_total_and_each_options_share():
    fractions = {"option_a": "Tea", "option_b": "Coffee", "option_c": "Water",
                 "option_a_votes_percentage": 0.375, "option_b_votes_percentage": 0.625,
                 "option_c_votes_percentage": 0.0, "total_votes": 8}
    percentages = {**fractions, "option_a_votes_percentage": 37.5,
                   "option_b_votes_percentage": 62.5}
    for poll in (fractions, percentages):
        values = {name: value for name, (_, value) in poll_counts(poll).items()}
        assert values == {"poll_votes": 8, "poll_option_1_votes": 3,
                          "poll_option_2_votes": 5, "poll_option_3_votes": 0}
    # No total: no counts are made up.
    values = {n: v for n, (_, v) in poll_counts({**fractions, "total_votes": None}).items()}
    assert "poll_votes" not in values and values["poll_option_1_votes"] is None
