"""Short links with UTM parameters, their clicks, and the conversions they brought."""

from __future__ import annotations

import re
import secrets
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import Click, Conversion, Link, TrackedPost
from shared.errors import NotFound, ValidationFailed
from shared.pagination import created_and_id, decode_cursor, page_of

UTM_KEYS = ("source", "medium", "campaign", "term", "content", "id")
CODE_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I
CODE_LENGTH = 7

_BOT = re.compile(
    r"bot|crawl|spider|slurp|facebookexternalhit|embedly|preview|whatsapp|telegram|"
    r"discord|skype|curl|wget|python-|httpclient|headless",
    re.IGNORECASE,
)
_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|android(?!.*mobile)", re.IGNORECASE)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|blackberry|opera mini|iemobile", re.IGNORECASE)


def agent_class(user_agent: str | None) -> str:
    """Who clicked, coarsely: link-preview fetchers and scripts count apart from people."""
    if not user_agent:
        return "unknown"
    if _BOT.search(user_agent):
        return "bot"
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"


def normalise_utm(utm: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, value in utm.items():
        name = key.removeprefix("utm_")
        if name not in UTM_KEYS:
            raise ValidationFailed(
                f"Unknown UTM parameter {key!r}; one of: {', '.join(UTM_KEYS)}.",
                field=f"utm.{key}",
            )
        out[name] = value
    return out


def with_utm(url: str, utm: dict[str, str]) -> str:
    """The destination with `utm_*` parameters set (replacing any it already carried)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.removeprefix("utm_") not in utm or not k.startswith("utm_")]
    query += [(f"utm_{k}", v) for k, v in utm.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def short_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/l/{code}"


async def create_link(
    session: AsyncSession, *, workspace_id: UUID, url: str, post_id: UUID | None,
    utm: dict[str, str],
) -> Link:
    utm = normalise_utm(utm)
    destination = with_utm(url, utm)
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        link_id = uuid.uuid4()
        inserted = await session.execute(
            pg_insert(Link)
            .values(id=link_id, code=code, workspace_id=workspace_id, url=url,
                    destination=destination, post_id=post_id, utm=utm)
            .on_conflict_do_nothing(index_elements=[Link.code])
            .returning(Link.id)
        )
        if inserted.first() is not None:
            link = await session.get(Link, link_id)
            assert link is not None
            return link
    raise RuntimeError("could not find a free short code")  # 57^7 codes: practically never


# A human click of a workspace with a Google Analytics property also becomes a row of the GA4
# work queue (services.metrics.ga4), in the same statement, and wakes its loop.
_FOLLOW = text(
    """
    WITH link AS (
        SELECT id, workspace_id, destination FROM metrics.links WHERE code = :code
    ),
    click AS (
        INSERT INTO metrics.clicks (link_id, clicked_at, referrer, agent)
        SELECT id, now(), :referrer, :agent FROM link
        RETURNING id, agent
    ),
    hit AS (
        INSERT INTO metrics.ga4_hits (click_id, workspace_id)
        SELECT click.id, link.workspace_id FROM click, link
        WHERE click.agent <> 'bot' AND EXISTS (
            SELECT 1 FROM metrics.ga4_properties p WHERE p.workspace_id = link.workspace_id
        )
        RETURNING click_id
    )
    SELECT destination, (SELECT count(pg_notify('metrics_ga4', '')) FROM hit) AS woken
    FROM link
    """
)


async def follow(
    session: AsyncSession, *, code: str, referrer: str | None, user_agent: str | None
) -> str | None:
    """The destination of `code`, recording the click in the same single statement; None
    (and nothing recorded) for an unknown code."""
    row = (
        await session.execute(
            _FOLLOW,
            {"code": code, "referrer": (referrer or None) and referrer[:2000],
             "agent": agent_class(user_agent)},
        )
    ).first()
    return None if row is None else str(row.destination)


async def list_links(
    session: AsyncSession, *, workspace_id: UUID, limit: int, cursor: str | None,
    post_id: UUID | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    clicks = (
        select(func.count()).where(Click.link_id == Link.id, Click.agent != "bot")
        .correlate(Link).scalar_subquery()
    )
    bots = (
        select(func.count()).where(Click.link_id == Link.id, Click.agent == "bot")
        .correlate(Link).scalar_subquery()
    )
    query = (
        select(Link, clicks.label("clicks"), bots.label("bot_clicks"))
        .where(Link.workspace_id == workspace_id)
        .order_by(Link.created_at.desc(), Link.id.desc())
        .limit(limit + 1)
    )
    if post_id is not None:
        query = query.where(Link.post_id == post_id)
    if (after := decode_cursor(cursor)) is not None:
        at, link_id = after
        query = query.where(tuple_(Link.created_at, Link.id) < tuple_(at, link_id))
    rows, next_cursor = page_of(
        (await session.execute(query)).all(), limit, key=lambda row: created_and_id(row.Link)
    )
    items = [{**_link_dict(r.Link), "clicks": r.clicks, "bot_clicks": r.bot_clicks} for r in rows]
    return items, next_cursor


def _link_dict(link: Link) -> dict[str, Any]:
    return {
        "id": link.id, "code": link.code, "url": link.url, "destination": link.destination,
        "post_id": link.post_id, "utm": link.utm, "created_at": link.created_at,
    }


async def record_conversion(
    session: AsyncSession, *, workspace_id: UUID, link_code: str | None, post_id: UUID | None,
    name: str, value: float | None, currency: str | None, occurred_at: datetime,
) -> dict[str, Any]:
    if link_code is None and post_id is None:
        raise ValidationFailed("A conversion needs a `link_code` or a `post_id`.",
                               field="link_code")
    link = None
    if link_code is not None:
        link = await session.scalar(
            select(Link).where(Link.code == link_code, Link.workspace_id == workspace_id)
        )
        if link is None:
            raise NotFound(f"No link {link_code!r} in this workspace.", field="link_code")
        if post_id is not None and link.post_id is not None and link.post_id != post_id:
            raise ValidationFailed("The link belongs to another post.", field="post_id")
        post_id = post_id or link.post_id
    elif post_id is not None:
        known = await session.scalar(
            select(func.count()).select_from(TrackedPost).where(
                TrackedPost.post_id == post_id, TrackedPost.workspace_id == workspace_id)
        ) or await session.scalar(
            select(func.count()).select_from(Link).where(
                Link.post_id == post_id, Link.workspace_id == workspace_id)
        )
        if not known:
            raise NotFound(f"No post {post_id} in this workspace.", field="post_id")
    conversion = Conversion(
        id=uuid.uuid4(), workspace_id=workspace_id, link_id=link.id if link else None,
        post_id=post_id, name=name, value=value, currency=currency.upper() if currency else None,
        occurred_at=occurred_at,
    )
    session.add(conversion)
    await session.flush()
    return {
        "id": conversion.id, "link_code": link.code if link else None, "post_id": post_id,
        "name": name, "value": value, "currency": conversion.currency,
        "occurred_at": occurred_at,
    }


GROUPS = ("post", "campaign", "network")


async def conversion_rates(
    session: AsyncSession, *, workspace_id: UUID, group_by: str, start: datetime, end: datetime,
) -> list[dict[str, Any]]:
    """Conversions per human click, per post, campaign or network.

    A link's campaign is its `utm_campaign`, else its post's campaign; its network is its
    `utm_source`, else its post's network when the post went to exactly one.
    """
    if group_by not in GROUPS:
        raise ValidationFailed(f"group_by is one of: {', '.join(GROUPS)}.", field="group_by")
    posts = {
        row.post_id: (row.campaign, row.network if row.networks == 1 else None)
        for row in (await session.execute(
            select(TrackedPost.post_id, func.max(TrackedPost.campaign).label("campaign"),
                   func.min(TrackedPost.network).label("network"),
                   func.count(func.distinct(TrackedPost.network)).label("networks"))
            .where(TrackedPost.workspace_id == workspace_id)
            .group_by(TrackedPost.post_id)
        )).all()
    }

    def key_of(post_id: UUID | None, utm: dict[str, str]) -> str | None:
        campaign, network = posts.get(post_id, (None, None)) if post_id else (None, None)
        if group_by == "post":
            return str(post_id) if post_id else None
        if group_by == "campaign":
            return utm.get("campaign") or campaign
        return utm.get("source") or network

    links = {
        row.id: key_of(row.post_id, row.utm or {})
        for row in (await session.execute(
            select(Link.id, Link.post_id, Link.utm).where(Link.workspace_id == workspace_id)
        )).all()
    }
    clicks: dict[str | None, int] = defaultdict(int)
    for row in (await session.execute(
        select(Click.link_id, func.count().label("n"))
        .join(Link, Link.id == Click.link_id)
        .where(Link.workspace_id == workspace_id, Click.agent != "bot",
               Click.clicked_at >= start, Click.clicked_at < end)
        .group_by(Click.link_id)
    )).all():
        clicks[links[row.link_id]] += row.n
    conversions: dict[str | None, int] = defaultdict(int)
    values: dict[str | None, float] = defaultdict(float)
    for row in (await session.execute(
        select(Conversion.link_id, Conversion.post_id, Conversion.value)
        .where(Conversion.workspace_id == workspace_id, Conversion.occurred_at >= start,
               Conversion.occurred_at < end)
    )).all():
        key = links[row.link_id] if row.link_id in links else key_of(row.post_id, {})
        conversions[key] += 1
        values[key] += row.value or 0.0
    keys = sorted(set(clicks) | set(conversions), key=lambda k: (k is None, k or ""))
    return [
        {
            "key": key,
            "clicks": clicks.get(key, 0),
            "conversions": conversions.get(key, 0),
            "rate": conversions.get(key, 0) / clicks[key] if clicks.get(key) else None,
            "value": values.get(key, 0.0),
        }
        for key in keys
    ]
