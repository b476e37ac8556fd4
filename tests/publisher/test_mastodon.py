import uuid

from services.publisher.app import create_app
from shared.events import Envelope
from tests.publisher.support import (
    Tap,
    post_due,
    put_faults,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


async def test_mastodon_publishes_and_an_unknown_outcome_is_resent_under_the_same_key(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="mastodon")
        await put_faults(sandbox_url, {"network": "mastodon", "endpoint": "POST /api/v1/statuses",
                                       "error_rate": 1.0, "status": 502, "phase": "after",
                                       "count": 1})
        due = post_due(channel=channel, text="Toot, once")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        published = await tap.wait("post.published")
        listing = await sandbox_posts(sandbox_url, "mastodon", channel["external_id"])
        assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
        assert listing["duplicates"] == 0
        assert published[0].data["url"]
