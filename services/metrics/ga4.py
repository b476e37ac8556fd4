"""Clicks on Herald links sent to the workspace's Google Analytics 4 property.

A workspace gives its measurement id and a Measurement Protocol API secret (sealed at rest).
Each human click on one of its links becomes a row of `ga4_hits` in the same statement that
records the click (`links.follow`), so no click is lost between the two. The loop claims due
rows with `FOR UPDATE SKIP LOCKED`, sends each click as one request (a request carries one
client id), and marks the row sent in the transaction that holds its lock, so replicas never
send a click twice. A request that fails is tried again later with a growing pause; GA4 takes
hits at most 72 hours old, so older ones are given up.

Each click is sent as two events: `campaign_details` with the link's UTM parameters mapped to
GA4's campaign parameters (utm_source → source, utm_medium → medium, utm_campaign → campaign,
utm_id → campaign_id, utm_term → term, utm_content → content), and `page_view` of the
destination with the same parameters, the referrer and the click id (`herald_click_id`), by
which a hit counted twice would show.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import Click, Ga4Hit, Ga4Property, Link
from services.metrics.settings import MetricsSettings
from shared.db import unit_of_work
from shared.errors import NotFound
from shared.loops import Loop
from shared.sealing import Keyring
from shared.service import Runtime

log = logging.getLogger(__name__)

GA4_CHANNEL = "metrics_ga4"
MAX_AGE = timedelta(hours=72)
CAMPAIGN_PARAMS = {
    "source": "source",
    "medium": "medium",
    "campaign": "campaign",
    "id": "campaign_id",
    "term": "term",
    "content": "content",
}
CONCURRENCY = 10


def _keyring(settings: MetricsSettings) -> Keyring:
    # Sealed as every service seals its secrets (AES-GCM with a key id, shared/sealing.py).
    return Keyring(keys=settings.encryption_keys, active_key_id=settings.active_key_id)


def seal_secret(settings: MetricsSettings, workspace_id: UUID, secret: str) -> tuple[str, bytes]:
    sealed: tuple[str, bytes] = _keyring(settings).seal(
        {"api_secret": secret}, context=f"ga4:{workspace_id}"
    )
    return sealed


def open_secret(settings: MetricsSettings, prop: Ga4Property) -> str:
    opened = _keyring(settings).open(
        prop.sealed_secret, key_id=prop.key_id, context=f"ga4:{prop.workspace_id}"
    )
    return str(opened["api_secret"])


async def set_property(
    session: AsyncSession,
    settings: MetricsSettings,
    *,
    workspace_id: UUID,
    measurement_id: str,
    api_secret: str,
    now: datetime,
) -> Ga4Property:
    key_id, sealed = seal_secret(settings, workspace_id, api_secret)
    prop = await session.get(Ga4Property, workspace_id, with_for_update=True)
    if prop is None:
        prop = Ga4Property(workspace_id=workspace_id)
        session.add(prop)
    prop.measurement_id, prop.key_id, prop.sealed_secret = measurement_id, key_id, sealed
    prop.updated_at = now
    await session.flush()
    return prop


async def remove_property(session: AsyncSession, *, workspace_id: UUID) -> None:
    prop = await session.get(Ga4Property, workspace_id)
    if prop is None:
        raise NotFound("No Google Analytics property is set for this workspace.")
    await session.delete(prop)
    # Hits waiting for a property that is gone go nowhere.
    await session.execute(
        update(Ga4Hit)
        .where(Ga4Hit.workspace_id == workspace_id, Ga4Hit.status == "pending")
        .values(status="dropped")
    )


async def property_view(session: AsyncSession, *, workspace_id: UUID) -> dict[str, Any]:
    prop = await session.get(Ga4Property, workspace_id)
    if prop is None:
        raise NotFound("No Google Analytics property is set for this workspace.")
    counts = dict(
        (
            await session.execute(
                select(Ga4Hit.status, func.count())
                .where(Ga4Hit.workspace_id == workspace_id)
                .group_by(Ga4Hit.status)
            )
        ).all()
    )
    return {
        "measurement_id": prop.measurement_id,
        "updated_at": prop.updated_at,
        "hits_pending": counts.get("pending", 0),
        "hits_sent": counts.get("sent", 0),
    }


def hit_body(
    *,
    click_id: int,
    clicked_at: datetime,
    destination: str,
    code: str,
    referrer: str | None,
    utm: dict[str, str],
) -> dict[str, Any]:
    """The Measurement Protocol body of one click."""
    campaign = {CAMPAIGN_PARAMS[k]: v for k, v in utm.items() if k in CAMPAIGN_PARAMS and v}
    page = {
        "page_location": destination[:1000],
        "link_code": code,
        "herald_click_id": str(click_id),
        "engagement_time_msec": 1,
        **campaign,
    }
    if referrer:
        page["page_referrer"] = referrer[:420]
    return {
        # Herald never sees the reader's GA cookie: one pseudonymous client per click.
        "client_id": f"{click_id}.{int(clicked_at.timestamp())}",
        "timestamp_micros": int(clicked_at.timestamp() * 1_000_000),
        "events": [
            {"name": "campaign_details", "params": campaign},
            {"name": "page_view", "params": page},
        ],
    }


class Ga4Loop(Loop):
    """Sends due clicks to the workspaces' Google Analytics properties."""

    name = "ga4"
    wake_on = GA4_CHANNEL

    def __init__(self, runtime: Runtime, settings: MetricsSettings) -> None:
        super().__init__(runtime, batch=settings.ga4_batch, every=settings.ga4_poll_seconds)
        self.settings = settings
        self.sent = runtime.metrics.counter(
            "herald_metrics_ga4_hits_sent_total", "Clicks sent to Google Analytics"
        )
        self.failed = runtime.metrics.counter(
            "herald_metrics_ga4_hits_failed_total",
            "Clicks given up (too old for GA4, or every attempt failed)",
        )

    async def run_once(self, *, now: datetime) -> int:
        s = self.settings
        async with unit_of_work(self.runtime.sessions) as session:
            rows = (
                await session.execute(
                    select(Ga4Hit, Click, Link)
                    .join(Click, Click.id == Ga4Hit.click_id)
                    .join(Link, Link.id == Click.link_id)
                    .where(Ga4Hit.status == "pending", Ga4Hit.due_at <= now)
                    .order_by(Ga4Hit.due_at)
                    .limit(s.ga4_batch)
                    .with_for_update(of=Ga4Hit, skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            props = {
                p.workspace_id: p
                for p in (
                    await session.scalars(
                        select(Ga4Property).where(
                            Ga4Property.workspace_id.in_({r.Ga4Hit.workspace_id for r in rows})
                        )
                    )
                ).all()
            }
            limit = asyncio.Semaphore(CONCURRENCY)
            async with httpx.AsyncClient(timeout=s.ga4_timeout_seconds) as client:
                await asyncio.gather(
                    *(
                        self._send(client, limit, row, props.get(row.Ga4Hit.workspace_id), now=now)
                        for row in rows
                    )
                )
            await session.flush()
        return len(rows)

    async def _send(
        self,
        client: httpx.AsyncClient,
        limit: asyncio.Semaphore,
        row: Any,
        prop: Ga4Property | None,
        *,
        now: datetime,
    ) -> None:
        hit: Ga4Hit = row.Ga4Hit
        if prop is None:
            hit.status = "dropped"
            return
        if row.Click.clicked_at < now - MAX_AGE:
            hit.status, hit.last_error = "expired", "older than GA4 accepts (72 hours)"
            self.failed.inc()
            return
        body = hit_body(
            click_id=row.Click.id,
            clicked_at=row.Click.clicked_at,
            destination=row.Link.destination,
            code=row.Link.code,
            referrer=row.Click.referrer,
            utm=row.Link.utm or {},
        )
        try:
            secret = open_secret(self.settings, prop)
        except (LookupError, ValueError, InvalidTag) as exc:
            # The key that sealed it is gone (or the row was tampered with): the workspace
            # must set its property again; the loop carries on with the others.
            hit.status, hit.last_error = "failed", f"API secret cannot be opened: {exc!r}"
            self.failed.inc()
            return
        params = {"measurement_id": prop.measurement_id, "api_secret": secret}
        url = f"{self.settings.ga4_url.rstrip('/')}/mp/collect"
        try:
            async with limit:
                answer = await client.post(url, params=params, json=body)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            hit.attempts += 1
            hit.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if hit.attempts >= self.settings.ga4_max_attempts:
                hit.status = "failed"
                self.failed.inc()
            else:
                hit.due_at = now + timedelta(seconds=min(3600, 5 * 2**hit.attempts))
            return
        hit.status, hit.sent_at = "sent", now
        self.sent.inc()

    async def step(self) -> int:
        return await self.run_once(now=self.clock())
