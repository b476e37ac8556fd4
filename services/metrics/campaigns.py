"""Campaign reports: how a campaign's posts did, per network.

The scheduler owns campaigns; this service learns of them from `campaign.created` /
`campaign.updated` (kept by version, so a late older event changes nothing) and of which post
is in which campaign from `post.campaign_set` (kept by when it was set). With the numbers it
already holds (published targets, latest values, links, clicks, conversions) that is enough
for the report, without reading the scheduler's tables.

Per network: posts (published on it), reach and engagements (latest values of the posts'
targets there), clicks on the campaign's links by people (bots are not counted),
conversions, and conversions per click. A campaign's links are the links of its posts and
the links whose `utm_campaign` is the campaign's own. A link counts for the network of its
post when that post went to one network only, else for the network its `utm_source` names,
else under `network: null` (in the totals, in no network's row).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import (
    Campaign,
    CampaignPost,
    Click,
    Conversion,
    LatestValue,
    Link,
    TrackedPost,
)
from services.metrics.vocabulary import ENGAGEMENT_METRICS
from shared.errors import NotFound
from shared.events import CampaignFacts, PostCampaignSet
from shared.networks import NETWORKS


async def record_campaign(
    session: AsyncSession, *, workspace_id: UUID, facts: CampaignFacts
) -> None:
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "name": facts.name,
        "starts_at": facts.starts_at,
        "ends_at": facts.ends_at,
        "goal": facts.goal.model_dump(mode="json") if facts.goal else None,
        "utm": facts.utm,
        "tags": facts.tags,
        "version": facts.campaign_version,
    }
    statement = pg_insert(Campaign).values(campaign_id=facts.campaign_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Campaign.campaign_id],
            set_=values,
            where=Campaign.version < statement.excluded.version,
        )
    )


async def record_campaign_post(
    session: AsyncSession, *, workspace_id: UUID, data: PostCampaignSet
) -> None:
    values = {"workspace_id": workspace_id, "campaign_id": data.campaign_id, "set_at": data.set_at}
    statement = pg_insert(CampaignPost).values(post_id=data.post_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[CampaignPost.post_id],
            set_=values,
            where=CampaignPost.set_at <= statement.excluded.set_at,
        )
    )


def _row(network: str | None) -> dict[str, Any]:
    return {"network": network, "posts": 0, "reach": 0.0, "engagements": 0.0, "clicks": 0,
            "conversions": 0}  # fmt: skip


async def _posts_by_network(
    session: AsyncSession, *, workspace_id: UUID, post_ids: list[UUID]
) -> dict[UUID, set[str]]:
    networks: dict[UUID, set[str]] = defaultdict(set)
    rows = await session.execute(
        select(TrackedPost.post_id, TrackedPost.network).where(
            TrackedPost.workspace_id == workspace_id, TrackedPost.post_id.in_(post_ids)
        )
    )
    for row in rows:
        networks[row.post_id].add(row.network)
    return networks


async def _link_networks(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    post_ids: list[UUID],
    utm_campaign: str | None,
    networks_of: dict[UUID, set[str]],
) -> dict[UUID, str | None]:
    """The campaign's links, each with the network it counts for."""
    belongs = [Link.post_id.in_(post_ids)]
    if utm_campaign:
        belongs.append(Link.utm["campaign"].astext == utm_campaign)
    found: dict[UUID, str | None] = {}
    rows = await session.execute(
        select(Link.id, Link.post_id, Link.utm).where(
            Link.workspace_id == workspace_id, or_(*belongs)
        )
    )
    for row in rows:
        posted = networks_of.get(row.post_id, set()) if row.post_id else set()
        source = (row.utm or {}).get("source")
        if len(posted) == 1:
            found[row.id] = next(iter(posted))
        elif source in NETWORKS:
            found[row.id] = source
        else:
            found[row.id] = None
    return found


async def campaign_report(
    session: AsyncSession, *, workspace_id: UUID, campaign_id: UUID
) -> dict[str, Any]:
    campaign = await session.scalar(
        select(Campaign).where(
            Campaign.campaign_id == campaign_id, Campaign.workspace_id == workspace_id
        )
    )
    if campaign is None:
        raise NotFound(f"No campaign {campaign_id} in this workspace.", field="campaign_id")
    post_ids = list(
        (
            await session.scalars(
                select(CampaignPost.post_id).where(
                    CampaignPost.workspace_id == workspace_id,
                    CampaignPost.campaign_id == campaign_id,
                )
            )
        ).all()
    )
    networks_of = await _posts_by_network(session, workspace_id=workspace_id, post_ids=post_ids)
    rows: dict[str | None, dict[str, Any]] = {}

    def row(network: str | None) -> dict[str, Any]:
        return rows.setdefault(network, _row(network))

    for networks in networks_of.values():
        for network in networks:
            row(network)["posts"] += 1
    values = await session.execute(
        select(LatestValue.network, LatestValue.metric, func.sum(LatestValue.value).label("v"))
        .where(
            LatestValue.workspace_id == workspace_id,
            LatestValue.post_id.in_(post_ids),
            LatestValue.metric.in_(("reach", *ENGAGEMENT_METRICS)),
        )
        .group_by(LatestValue.network, LatestValue.metric)
    )
    for value in values:
        key = "reach" if value.metric == "reach" else "engagements"
        row(value.network)[key] += float(value.v or 0.0)
    await _add_clicks_and_conversions(
        session,
        workspace_id=workspace_id,
        post_ids=post_ids,
        utm_campaign=(campaign.utm or {}).get("campaign"),
        networks_of=networks_of,
        row=row,
    )
    return _shape(campaign, rows, posts=len(networks_of))


async def _add_clicks_and_conversions(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    post_ids: list[UUID],
    utm_campaign: str | None,
    networks_of: dict[UUID, set[str]],
    row: Any,
) -> None:
    links = await _link_networks(
        session,
        workspace_id=workspace_id,
        post_ids=post_ids,
        utm_campaign=utm_campaign,
        networks_of=networks_of,
    )
    if links:
        clicks = await session.execute(
            select(Click.link_id, func.count().label("n"))
            .where(Click.link_id.in_(list(links)), Click.agent != "bot")
            .group_by(Click.link_id)
        )
        for click in clicks:
            row(links[click.link_id])["clicks"] += int(click.n)
    owned = [Conversion.post_id.in_(post_ids)]
    if links:
        owned.append(Conversion.link_id.in_(list(links)))
    conversions = await session.execute(
        select(Conversion.link_id, Conversion.post_id).where(
            Conversion.workspace_id == workspace_id, or_(*owned)
        )
    )
    for conversion in conversions:
        if conversion.link_id in links:
            network = links[conversion.link_id]
        else:
            posted = networks_of.get(conversion.post_id, set())
            network = next(iter(posted)) if len(posted) == 1 else None
        row(network)["conversions"] += 1


def _rate(conversions: int, clicks: int) -> float | None:
    return round(conversions / clicks, 6) if clicks else None


def _shape(
    campaign: Campaign, rows: dict[str | None, dict[str, Any]], *, posts: int
) -> dict[str, Any]:
    networks = sorted((r for n, r in rows.items() if n is not None), key=lambda r: r["network"])
    totals = _row(None)
    for r in rows.values():
        for key in ("reach", "engagements", "clicks", "conversions"):
            totals[key] += r[key]
    totals["posts"] = posts
    for r in [*networks, totals]:
        r["conversion_rate"] = _rate(r["conversions"], r["clicks"])
    goal = None
    if campaign.goal:
        actual = float(totals.get(campaign.goal["metric"], 0))
        target = float(campaign.goal["target"])
        goal = {**campaign.goal, "actual": actual, "progress": round(actual / target, 6)}
    totals.pop("network")
    return {
        "campaign_id": campaign.campaign_id,
        "name": campaign.name,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "goal": goal,
        "totals": totals,
        "networks": networks,
    }
