"""Facebook Login gives a person's token: it reads the person and the Pages they manage
(`/me/accounts`, each with its Page token) and cannot publish as a Page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.sandbox.conftest import auth


async def test_a_persons_token_lists_pages_and_only_the_page_token_publishes(
    client: httpx.AsyncClient,
) -> None:
    app = (await client.get("/_sandbox/facebook/app")).json()
    redirect = "https://app.example/done"
    consent = await client.get(
        "/facebook/oauth/authorize",
        params={"client_id": app["client_id"], "redirect_uri": redirect, "state": "s",
                "login_hint": "Acme Page"},
    )
    assert consent.status_code == 302, consent.text
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    issued = await client.post(
        "/facebook/v21.0/oauth/access_token",
        data={"code": code, "client_id": app["client_id"],
              "client_secret": app["client_secret"], "redirect_uri": redirect},
    )
    assert issued.status_code == 200, issued.text
    person = issued.json()["access_token"]

    me = (await client.get("/facebook/v21.0/me", headers=auth(person))).json()
    pages = (await client.get("/facebook/v21.0/me/accounts", headers=auth(person))).json()
    [page] = pages["data"]
    assert page["name"] == "Acme Page" and me["id"] != page["id"]

    refused = await client.post(f"/facebook/v21.0/{page['id']}/feed",
                                data={"message": "launch"}, headers=auth(person))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 200

    posted = await client.post(f"/facebook/v21.0/{page['id']}/feed",
                               data={"message": "launch"}, headers=auth(page["access_token"]))
    assert posted.status_code == 200, posted.text
    assert posted.json()["id"].startswith(f"{page['id']}_")

    # A Page token has no Pages of its own.
    none = await client.get("/facebook/v21.0/me/accounts", headers=auth(page["access_token"]))
    assert none.status_code == 400
