"""Comments delivered to the inbox as X's signed webhooks, and the conversations they make."""

from __future__ import annotations

from typing import Any

from tests.inbox.conftest import Inbox, x_sign
from tests.inbox.test_x_webhooks import delivery, tweet


async def send(inbox: Inbox, tweet_id: str, text: str, **kw: Any) -> None:
    body = delivery(tweet(tweet_id, text, **kw))
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200, r.text


async def ids(inbox: Inbox, **params: Any) -> set[str]:
    return {c["id"] for c in (await inbox.conversations(**params))["items"]}


async def of_size(coro: Any, n: int) -> Any:
    got = await coro
    return got if len(got) == n else None
