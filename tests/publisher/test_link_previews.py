"""Link previews from a page's own tags, and the Bluesky card built from them."""

import uuid

from services.publisher.app import create_app
from services.publisher.previews import Preview, parse
from shared.events import Envelope
from tests.publisher.support import Tap, post_due, sandbox_posts, send, wait_consuming
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


def test_open_graph_wins_then_twitter_cards_then_the_title():
    page = """<html><head><title> Plain   title </title>
      <meta name="twitter:title" content="Card title">
      <meta property="og:title" content="OG title">
      <meta name="twitter:description" content="Card words">
      <meta name="twitter:image" content="/img/card.png">
    </head></html>"""
    assert parse(page, url="https://shop.example/a/b") == Preview(
        url="https://shop.example/a/b",
        title="OG title",
        description="Card words",
        image="https://shop.example/img/card.png",
    )
    assert parse("<title>Only &amp; this</title>", url="https://e.example/").title == (
        "Only & this"
    )
    assert parse("<p>no head</p>", url="https://e.example/") is None


async def test_a_bluesky_link_gets_a_card_with_a_thumbnail(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="bluesky")
        link = f"{sandbox_url}/_sandbox/pages/winter-sale"
        due = post_due(channel=channel, text=f"Our sale is on: {link} and more")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        await tap.wait("post.published")
        [held] = (await sandbox_posts(sandbox_url, "bluesky", channel["external_id"]))["items"]
        embed = held["record"]["embed"]
        assert embed["$type"] == "app.bsky.embed.external"
        external = embed["external"]
        assert (external["uri"], external["title"]) == (link, "Winter Sale")
        assert external["description"] == "All about Winter Sale."
        assert external["thumb"]["mimeType"] == "image/jpeg"
        assert [m["kind"] for m in held["media"]] == ["image"]  # the thumbnail blob
        assert held["record"]["facets"][0]["features"][0]["uri"] == link


async def test_a_linkedin_link_gets_an_article_card(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="linkedin")
        link = f"{sandbox_url}/_sandbox/pages/spring-launch"
        due = post_due(channel=channel, text=f"Read about the launch: {link}")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        await tap.wait("post.published")
        [held] = (await sandbox_posts(sandbox_url, "linkedin", channel["external_id"]))["items"]
        article = held["article"]
        assert (article["source"], article["title"]) == (link, "Spring Launch")
        assert article["description"] == "All about Spring Launch."
        # The page's image, uploaded through the Images API as the card's thumbnail.
        assert article["thumbnail"].startswith("urn:li:image:")
        assert held["media"] == []
