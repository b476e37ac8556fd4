"""Connecting a channel with OAuth against the sandbox's authorize and token endpoints."""

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from services.publisher.adapters.instagram import InstagramAdapter
from services.publisher.adapters.linkedin import LinkedInAdapter
from services.publisher.adapters.threads import ThreadsAdapter
from services.publisher.adapters.tiktok import TikTokAdapter
from services.publisher.adapters.youtube import YouTubeAdapter
from services.publisher.app import create_app
from services.publisher.oauth import FLOWS, token_url
from tests.conftest import identity
from tests.publisher.support import network_apps
from tests.support.servers import lifespan


async def authorize_and_call_back(app, sandbox_url, network, workspace):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://p"
    ) as api:
        r = await api.get(
            f"/v1/channels/connect/{network}",
            params={"redirect_uri": "https://app.example/done"},
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        url = r.json()["authorize_url"]
        query = parse_qs(urlsplit(url).query)
        async with httpx.AsyncClient() as browser:
            consent = await browser.get(url)
        assert consent.status_code == 302, consent.text
        back = parse_qs(urlsplit(consent.headers["location"]).query)
        assert back["state"] == query["state"]
        r = await api.get(
            f"/v1/channels/callback/{network}",
            params={"code": back["code"][0], "state": back["state"][0]},
            headers=identity(workspace),
        )
        return query, r, api


async def test_x_connects_with_pkce_and_the_state_is_single_use(publisher_settings, sandbox_url):
    app = create_app(publisher_settings())
    workspace = uuid.uuid4()
    async with lifespan(app):
        query, r, _ = await authorize_and_call_back(app, sandbox_url, "x", workspace)
        assert query["code_challenge_method"] == ["S256"]
        assert r.status_code == 201, r.text
        assert r.json()["network"] == "x" and r.json()["status"] == "active"
        assert r.json()["token_expires_at"]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p"
        ) as api:
            again = await api.get(
                "/v1/channels/callback/x",
                params={"code": "x", "state": query["state"][0]},
                headers=identity(workspace),
            )
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
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as api,
    ):
        r = await api.get(
            "/v1/channels/connect/bluesky",
            params={"redirect_uri": "https://app.example/done"},
            headers=identity(uuid.uuid4()),
        )
        assert r.status_code == 422
        assert "credentials" in r.json()["detail"]


NEW_NETWORKS = ("instagram", "threads", "linkedin", "tiktok", "youtube")


async def settings_with_every_app(publisher_settings, sandbox_url):
    base = publisher_settings()
    apps = {n: a.model_dump() for n, a in base.network_apps.items()}
    apps.update(await network_apps(sandbox_url, *NEW_NETWORKS))
    return publisher_settings(network_apps=apps), apps


async def listed(api, workspace):
    r = await api.get("/v1/channels", headers=identity(workspace))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_every_oauth_network_connects_through_the_sandbox(publisher_settings, sandbox_url):
    settings, apps = await settings_with_every_app(publisher_settings, sandbox_url)
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with lifespan(app):
        connected = {}
        for network in NEW_NETWORKS:
            query, r, _ = await authorize_and_call_back(app, sandbox_url, network, workspace)
            assert r.status_code == 201, (network, r.text)
            body = r.json()
            assert body["network"] == network and body["status"] == "active"
            assert body["external_id"]
            connected[network] = (query, body)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p"
        ) as api:
            items = await listed(api, workspace)
        assert sorted(c["network"] for c in items) == sorted(NEW_NETWORKS)

    tiktok, _ = connected["tiktok"]
    assert tiktok["client_key"] == [apps["tiktok"]["client_id"]]
    assert "client_id" not in tiktok
    assert tiktok["code_challenge_method"] == ["S256"]
    assert len(tiktok["code_challenge"][0]) == 43  # base64url of a SHA-256, unpadded
    youtube, body = connected["youtube"]
    assert youtube["access_type"] == ["offline"]
    assert body["token_expires_at"]
    linkedin, body = connected["linkedin"]
    assert body["external_id"].startswith("urn:li:person:")
    for network in ("instagram", "threads", "linkedin", "youtube"):
        query, _ = connected[network]
        assert "code_challenge" not in query, network
        assert query["client_id"] == [apps[network]["client_id"]]
    # Meta's short-lived login token is swapped for a long-lived one (60 days).
    for network in ("instagram", "threads"):
        _, body = connected[network]
        assert body["token_expires_at"], network


async def test_tiktok_refuses_a_code_redeemed_with_another_pkce_verifier(
    publisher_settings, sandbox_url
):
    """Two authorizations in flight: each code is tied to its own verifier, so swapping the
    states makes TikTok refuse the code and nothing is connected."""
    settings, _ = await settings_with_every_app(publisher_settings, sandbox_url)
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as api,
        httpx.AsyncClient() as browser,
    ):
        grants = []
        for _ in range(2):
            r = await api.get(
                "/v1/channels/connect/tiktok",
                params={"redirect_uri": "https://app.example/done"},
                headers=identity(workspace),
            )
            assert r.status_code == 200, r.text
            consent = await browser.get(r.json()["authorize_url"])
            assert consent.status_code == 302, consent.text
            grants.append(parse_qs(urlsplit(consent.headers["location"]).query))
        r = await api.get(
            "/v1/channels/callback/tiktok",
            params={"code": grants[0]["code"][0], "state": grants[1]["state"][0]},
            headers=identity(workspace),
        )
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "code"
        assert await listed(api, workspace) == []


async def test_a_wrong_or_unknown_state_is_refused_and_nothing_is_stored(
    publisher_settings, sandbox_url
):
    settings, _ = await settings_with_every_app(publisher_settings, sandbox_url)
    app = create_app(settings)
    workspace = uuid.uuid4()
    other = uuid.uuid4()
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as api,
        httpx.AsyncClient() as browser,
    ):
        r = await api.get(
            "/v1/channels/connect/linkedin",
            params={"redirect_uri": "https://app.example/done"},
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        consent = await browser.get(r.json()["authorize_url"])
        back = parse_qs(urlsplit(consent.headers["location"]).query)
        code, state = back["code"][0], back["state"][0]
        refusals = [
            ("linkedin", state + "x", workspace),  # unknown state
            ("youtube", state, workspace),  # started for another network
            ("linkedin", state, other),  # started by another workspace
        ]
        for network, bad_state, who in refusals:
            r = await api.get(
                f"/v1/channels/callback/{network}",
                params={"code": code, "state": bad_state},
                headers=identity(who),
            )
            assert r.status_code == 422, (network, r.text)
            assert r.json()["field"] == "state"
        assert await listed(api, workspace) == []
        assert await listed(api, other) == []
        # The refusals spent neither the state nor the code: the real callback still connects.
        r = await api.get(
            "/v1/channels/callback/linkedin",
            params={"code": code, "state": state},
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        assert [c["network"] for c in await listed(api, workspace)] == ["linkedin"]


async def test_outside_the_sandbox_the_real_hosts_are_used(publisher_settings, sandbox_url):
    _, apps = await settings_with_every_app(publisher_settings, sandbox_url)
    app = create_app(publisher_settings(sandbox_url=None, network_apps=apps))
    expected = {
        "instagram": "https://www.instagram.com/oauth/authorize",
        "threads": "https://threads.net/oauth/authorize",
        "linkedin": "https://www.linkedin.com/oauth/v2/authorization",
        "tiktok": "https://www.tiktok.com/v2/auth/authorize/",
        "youtube": "https://accounts.google.com/o/oauth2/v2/auth",
    }
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as api,
    ):
        for network, page in expected.items():
            r = await api.get(
                f"/v1/channels/connect/{network}",
                params={"redirect_uri": "https://app.example/done"},
                headers=identity(uuid.uuid4()),
            )
            assert r.status_code == 200, r.text
            url = urlsplit(r.json()["authorize_url"])
            assert f"{url.scheme}://{url.netloc}{url.path}" == page

    async with httpx.AsyncClient() as client:
        real = {
            n: cls(client=client, base_url=cls.real_url, app=None)
            for n, cls in (
                ("instagram", InstagramAdapter),
                ("threads", ThreadsAdapter),
                ("linkedin", LinkedInAdapter),
                ("tiktok", TikTokAdapter),
                ("youtube", YouTubeAdapter),
            )
        }
        assert {n: token_url(FLOWS[n], a) for n, a in real.items()} == {
            "instagram": "https://api.instagram.com/oauth/access_token",
            "threads": "https://graph.threads.net/oauth/access_token",
            "linkedin": "https://www.linkedin.com/oauth/v2/accessToken",
            "tiktok": "https://open.tiktokapis.com/v2/oauth/token/",
            "youtube": "https://oauth2.googleapis.com/token",
        }
        sandboxed = YouTubeAdapter(client=client, base_url=sandbox_url + "/youtube", app=None)
        assert token_url(FLOWS["youtube"], sandboxed) == sandbox_url + "/youtube/token"
