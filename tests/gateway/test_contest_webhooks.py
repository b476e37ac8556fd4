"""Clients may subscribe to `contest.closed` and `contest.drawn`; a draw reaches them signed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from services.gateway.webhooks.events import PUBLIC_EVENTS, openapi_webhooks
from shared.events import ContestClosed, ContestDrawn, ContestWinner, Envelope
from tests.gateway.support import running_gateway
from tests.gateway.test_webhooks import allowing, emit, pump, receiving, subscribe


def drawn(workspace_id: str) -> Envelope:
    now = datetime.now(UTC)
    return Envelope.of(
        ContestDrawn(
            contest_id=uuid.uuid4(),
            name="Ísveisla",
            commitment="c" * 64,
            seed="s" * 64,
            entries_digest="d" * 64,
            qualifying=4,
            winners=[
                ContestWinner(
                    place=1,
                    network="facebook",
                    comment_id="1_2_3",
                    author_id="9001",
                    author="Anna",
                    message_id=uuid.uuid4(),
                )
            ],
            reserves=[],
            drawn_at=now,
            drawn_by="schedule",
        ),
        workspace_id=uuid.UUID(workspace_id),
    )


def closed(workspace_id: str) -> Envelope:
    now = datetime.now(UTC)
    return Envelope.of(
        ContestClosed(
            contest_id=uuid.uuid4(),
            name="Ísveisla",
            post_ids=[uuid.uuid4()],
            ends_at=now,
            draw_at=now + timedelta(minutes=1),
        ),
        workspace_id=uuid.UUID(workspace_id),
    )


async def test_contest_events_are_public_and_delivered(make_settings):
    assert {"contest.closed", "contest.drawn"} <= set(PUBLIC_EVENTS)
    webhooks, _ = openapi_webhooks()
    assert {"contest.closed", "contest.drawn"} <= set(webhooks)
    async with (
        receiving() as (receiver, url),
        running_gateway(make_settings, run_workers=False, outbound_allow=allowing(url)) as gw,
    ):
        ws = await gw.workspace()
        sub = await subscribe(gw, ws["api_key"], url, ["contest.drawn"])
        assert await emit(gw, closed(ws["id"])) == 0  # not subscribed to that one
        event = drawn(ws["id"])
        assert await emit(gw, event) == 1
        assert await pump(gw, datetime.now(UTC)) == 1
        [(body, headers)] = receiver.got
        payload = Webhook(sub["secret"]).verify(body, headers)
        assert payload["type"] == "contest.drawn"
        assert payload["data"]["seed"] == "s" * 64
        assert payload["data"]["winners"][0]["author"] == "Anna"
