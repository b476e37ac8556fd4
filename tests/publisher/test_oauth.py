"""Connecting a channel with OAuth against the sandbox's authorize and token endpoints."""

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from services.publisher.app import create_app
from tests.conftest import identity
from tests.support.servers import lifespan


async def authorize_and_call_back(app, sandbox_url, network, workspace):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://p") as api:
        r = await api.get(f"/v1/channels/connect/{network}",
                          params={"redirect_uri": "https://app.example/done"},
                          headers=identity(workspace))
        assert r.status_code == 200, r.text
        url = r.json()["authorize_url"]
        query = parse_qs(urlsplit(url).query)
        async with httpx.AsyncClient() as browser:
            consent = await browser.get(url)
        assert consent.status_code == 302, consent.text
        back = parse_qs(urlsplit(consent.headers["location"]).query)
        assert back["state"] == query["state"]
        r = await api.get(f"/v1/channels/callback/{network}",
                          params={"code": back["code"][0], "state": back["state"][0]},
                          headers=identity(workspace))
        return query, r, api


async def test_x_connects_with_pkce_and_the_state_is_single_use(
    publisher_settings, sandbox_url
):
    app = create_app(publisher_settings())
    workspace = uuid.uuid4()
    async with lifespan(app):
        query, r, _ = await authorize_and_call_back(app, sandbox_url, "x", workspace)
        assert query["code_challenge_method"] == ["S256"]
        assert r.status_code == 201, r.text
        assert r.json()["network"] == "x" and r.json()["status"] == "active"
        assert r.json()["token_expires_at"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://p") as api:
            again = await api.get("/v1/channels/callback/x",
                                  params={"code": "x", "state": query["state"][0]},
                                  headers=identity(workspace))
            assert again.status_code == 422
            assert again.json()["field"] == "state"


async def test_mastodon_and_facebook_connect_without_pkce(publisher_settings, sandbox_url):
    app = create_app(publisher_settings())
    workspace = uuid.uuid4()
    async with lifespan(app):
        for network in ("mastodon", "facebook"):
            query, r, _ = await authorize_and_call_back(app, sandbox_url, network, workspace)
            assert "code_challenge" not in query
            assert r.status_code == 201, r.text
            assert r.json()["network"] == network


async def test_a_network_without_oauth_says_how_to_connect(publisher_settings):
    app = create_app(publisher_settings())
    async with lifespan(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://p"
    ) as api:
        r = await api.get("/v1/channels/connect/bluesky",
                          params={"redirect_uri": "https://app.example/done"},
                          headers=identity(uuid.uuid4()))
        assert r.status_code == 422
        assert "credentials" in r.json()["detail"]
