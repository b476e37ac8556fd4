"""The inbox's network apps for LinkedIn, TikTok and YouTube (each network signs its webhooks
with its app's secret) and what the inbox stored of them."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.inbox.conftest import Inbox

LI_SECRET = "linkedin-client-secret-for-tests"
TT_SECRET = "tiktok-client-secret-for-tests"
YT_SECRET = "youtube-hub-secret-for-tests"
APPS = {
    "linkedin": {"client_secret": LI_SECRET},
    "tiktok": {"client_secret": TT_SECRET},
    "youtube": {"client_secret": YT_SECRET, "verify_token": "yt-verify"},
}


def hexmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def receipts(inbox: Inbox, network: str) -> list[Any]:
    return await inbox.fetch("SELECT * FROM inbox.receipts WHERE network=$1 ORDER BY id", network)


async def items(inbox: Inbox, **params: Any) -> list[dict[str, Any]]:
    return (await inbox.conversations(**params))["items"]
