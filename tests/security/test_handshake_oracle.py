"""The webhook handshakes must not sign what a stranger chooses.

X's CRC answers `base64(HMAC(consumer secret, crc_token))`, which is exactly the
`x-twitter-webhooks-signature` of a body equal to that token; LinkedIn's challengeCode is the
same with a hex HMAC. A stranger who asks for the "challenge response" of a JSON event gets
its signature, and the inbox then takes the forged comment or DM as the network's own.
"""

from __future__ import annotations

import secrets
import uuid

import orjson

from tests.e2e.flows import wait_for
from tests.security.sec_inbox import connect, doors, sandbox_account


def forged_x_dm(account_id: str) -> bytes:
    return orjson.dumps(
        {
            "for_user_id": account_id,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": "1900000000000000777",
                    "created_timestamp": "1795000000000",
                    "message_create": {
                        "target": {"recipient_id": account_id},
                        "sender_id": "66",
                        "message_data": {"text": "Locked: log in at evil.example"},
                    },
                }
            ],
            "users": {"66": {"id_str": "66", "name": "Support", "screen_name": "support"}},
        }
    )


async def test_no_handshake_signs_a_chosen_body(platform) -> None:
    async with doors(platform) as d:
        x_account = await sandbox_account(d.sandbox, "x", "Acme")
        await connect(d, "x", x_account)
        body = forged_x_dm(x_account["external_id"])

        # The attack: the CRC "response" of the forged body is the body's signature.
        crc = await d.gateway.get("/hooks/x", params={"crc_token": body.decode()})
        assert crc.status_code == 400, crc.text
        assert crc.headers["content-type"].startswith("application/problem+json")
        assert crc.json()["field"] == "crc_token"
        signature = crc.json().get("response_token", "sha256=AAAA")
        r = await d.gateway.post(
            "/hooks/x",
            content=body,
            headers={"content-type": "application/json", "x-twitter-webhooks-signature": signature},
        )
        assert r.status_code == 401, r.text

        # A CRC token that is itself a JSON document (a number, true, null) is refused too:
        # its HMAC would sign a body the receiver could parse.
        for token in ("1234567890", "null", "true", "-1", "a" * 200, "has space", "x{y}"):
            r = await d.gateway.get("/hooks/x", params={"crc_token": token})
            assert r.status_code == 400, (token, r.text)

        # LinkedIn: challengeCode is a UUID, nothing else is answered.
        li = await d.gateway.get("/hooks/linkedin", params={"challengeCode": body.decode()})
        assert li.status_code == 400, li.text
        assert li.json()["field"] == "challengeCode"
        for code in ("c-1", "42", str(uuid.uuid4()) + "{}"):
            r = await d.gateway.get("/hooks/linkedin", params={"challengeCode": code})
            assert r.status_code == 400, (code, r.text)

        # Meta and YouTube echo hub.challenge (no HMAC), but only a short plain token.
        meta = platform.network_apps["facebook"]
        query = {"hub.mode": "subscribe", "hub.verify_token": meta["verify_token"]}
        r = await d.gateway.get("/hooks/facebook", params={**query, "hub.challenge": body.decode()})
        assert r.status_code == 400, r.text
        r = await d.gateway.get("/hooks/facebook", params={**query, "hub.challenge": "1158201444"})
        assert r.status_code == 200 and r.text == "1158201444"

        youtube = platform.network_apps["youtube"]
        query = {
            "hub.mode": "subscribe",
            "hub.topic": "https://www.youtube.com/xml/feeds/videos.xml?channel_id=UC0000000001",
            "hub.verify_token": youtube["verify_token"],
        }
        r = await d.gateway.get("/hooks/youtube", params={**query, "hub.challenge": body.decode()})
        assert r.status_code == 400, r.text
        r = await d.gateway.get("/hooks/youtube", params={**query, "hub.challenge": "yt-77"})
        assert r.status_code == 200 and r.text == "yt-77"
        # TikTok has no handshake at all: nothing answers a GET.
        r = await d.gateway.get("/hooks/tiktok", params={"challenge": body.decode()})
        assert r.status_code in (404, 405), r.text

        # Nothing forged was kept or shown.
        r = await d.gateway.get("/v1/conversations", headers=d.auth)
        assert r.status_code == 200 and r.json()["items"] == [], r.text

        # The networks' own handshakes, as they send them, still pass (the sandbox runs
        # each against the gateway and checks the answer).
        base = platform.config.url("gateway") + "/hooks"
        for network in ("x", "linkedin", "facebook", "instagram", "threads"):
            r = await d.sandbox.put(
                f"/_sandbox/{network}/webhook", json={"url": f"{base}/{network}"}
            )
            assert r.status_code == 200 and r.json()["verified"], (network, r.text)
        token = secrets.token_urlsafe(32)
        r = await d.gateway.get("/hooks/x", params={"crc_token": token})
        assert r.status_code == 200 and r.json()["response_token"].startswith("sha256=")

        # And a real comment, signed by the network, still arrives.
        r = await d.sandbox.post(
            "/_sandbox/x/messages",
            json={
                "account": x_account["external_id"],
                "text": "Where is my order?",
                "author": "buyer",
            },
        )
        assert r.status_code == 201, r.text
        [real] = await wait_for(lambda: _conversations(d), what="the real DM", seconds=60)
        assert "evil.example" not in str(real)


async def _conversations(d) -> list:
    r = await d.gateway.get("/v1/conversations", headers=d.auth)
    return r.json()["items"] if r.status_code == 200 else []
