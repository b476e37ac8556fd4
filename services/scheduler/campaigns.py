"""Campaigns: a name, dates, a goal, default UTM parameters for its posts' links, tags.

The scheduler owns them because posts belong to them. Others learn of them by events:
`campaign.created` / `campaign.updated` carry the whole campaign (with its version, so a
consumer keeps the newest), and `post.campaign_set` says which campaign a post is in (metrics
builds `GET /v1/campaigns/{id}/report` from these). A post names its campaign by id or by
name; a name no campaign has yet creates one, so clients that send a string keep working.

UTM parameters are added to every http(s) link of the post's text when it goes out
(`post.due`), except a parameter the link already carries: what the author wrote wins.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Set
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Campaign, Post
from services.scheduler.pages import newest_first
from services.scheduler.schemas import CampaignIn, CampaignPatch
from shared.auth import Principal
from shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from shared.events import CampaignCreated, CampaignGoal, CampaignUpdated, Envelope
from shared.outbox import Outbox

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the link.
_TRAILING = ".,;:!?)]}'\""


def _facts(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "goal": CampaignGoal.model_validate(campaign.goal) if campaign.goal else None,
        "utm": dict(campaign.utm or {}),
        "tags": list(campaign.tags or []),
        "campaign_version": campaign.version,
    }


def _check_dates(starts_at: datetime | None, ends_at: datetime | None) -> None:
    for value, name in ((starts_at, "starts_at"), (ends_at, "ends_at")):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} needs a UTC offset.", field=name)
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at.", field="ends_at")


async def _name_taken(
    session: AsyncSession, *, workspace_id: UUID, name: str, other_than: UUID | None = None
) -> None:
    query = select(Campaign.id).where(Campaign.workspace_id == workspace_id, Campaign.name == name)
    if other_than is not None:
        query = query.where(Campaign.id != other_than)
    if await session.scalar(query) is not None:
        raise Conflict(f"This workspace already has a campaign called {name!r}.", field="name")


def _tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))


async def create_campaign(
    session: AsyncSession, *, principal: Principal, body: CampaignIn, outbox: Outbox
) -> Campaign:
    _check_dates(body.starts_at, body.ends_at)
    await _name_taken(session, workspace_id=principal.workspace_id, name=body.name)
    now = datetime.now(UTC)
    campaign = Campaign(
        id=uuid.uuid4(),
        workspace_id=principal.workspace_id,
        name=body.name,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        goal=body.goal.model_dump(mode="json") if body.goal else None,
        utm=body.utm.model_dump(exclude_none=True) if body.utm else {},
        tags=_tags(body.tags),
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    await session.flush()
    await outbox.add(
        session,
        Envelope.of(CampaignCreated(**_facts(campaign)), workspace_id=campaign.workspace_id),
    )
    return campaign


async def get_campaign(
    session: AsyncSession, *, workspace_id: UUID, campaign_id: UUID, for_update: bool = False
) -> Campaign:
    query = select(Campaign).where(
        Campaign.id == campaign_id, Campaign.workspace_id == workspace_id
    )
    if for_update:
        query = query.with_for_update()
    campaign = await session.scalar(query)
    if campaign is None:
        raise NotFound(f"No campaign {campaign_id} in this workspace.", field="campaign_id")
    return campaign


async def update_campaign(
    session: AsyncSession,
    *,
    principal: Principal,
    campaign_id: UUID,
    patch: CampaignPatch,
    expected_version: Set[int] | None,
    outbox: Outbox,
) -> Campaign:
    """Changes the fields given. Renaming renames it on its posts too (their `campaign`)."""
    campaign = await get_campaign(
        session, workspace_id=principal.workspace_id, campaign_id=campaign_id, for_update=True
    )
    if expected_version is not None and campaign.version not in expected_version:
        raise PreconditionFailed(
            f"The campaign changed meanwhile (version {campaign.version}); reload it.",
            field="If-Match",
        )
    given = patch.model_fields_set
    starts_at = patch.starts_at if "starts_at" in given else campaign.starts_at
    ends_at = patch.ends_at if "ends_at" in given else campaign.ends_at
    _check_dates(starts_at, ends_at)
    if patch.name is not None and patch.name != campaign.name:
        await _name_taken(
            session, workspace_id=campaign.workspace_id, name=patch.name, other_than=campaign.id
        )
        await _rename_on_posts(session, campaign=campaign, name=patch.name)
        campaign.name = patch.name
    campaign.starts_at, campaign.ends_at = starts_at, ends_at
    if "goal" in given:
        campaign.goal = patch.goal.model_dump(mode="json") if patch.goal else None
    if "utm" in given:
        campaign.utm = patch.utm.model_dump(exclude_none=True) if patch.utm else {}
    if patch.tags is not None:
        campaign.tags = _tags(patch.tags)
    campaign.version += 1
    campaign.updated_at = datetime.now(UTC)
    await session.flush()
    await outbox.add(
        session,
        Envelope.of(CampaignUpdated(**_facts(campaign)), workspace_id=campaign.workspace_id),
    )
    return campaign


async def _rename_on_posts(session: AsyncSession, *, campaign: Campaign, name: str) -> None:
    await session.execute(update(Post).where(Post.campaign_id == campaign.id).values(campaign=name))


async def list_campaigns(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    tag: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Campaign], str | None]:
    """Newest first, keyset-paginated."""
    query = select(Campaign).where(Campaign.workspace_id == workspace_id)
    if tag is not None:
        query = query.where(Campaign.tags.contains([tag]))
    return await newest_first(session, query, model=Campaign, limit=limit, cursor=cursor)


async def campaign_for_post(
    session: AsyncSession,
    *,
    principal: Principal,
    name: str | None,
    campaign_id: UUID | None,
    outbox: Outbox,
) -> Campaign | None:
    """The campaign a post names: by id (it must exist), else by name (made if new)."""
    if campaign_id is not None:
        campaign = await session.scalar(
            select(Campaign).where(
                Campaign.id == campaign_id, Campaign.workspace_id == principal.workspace_id
            )
        )
        if campaign is None:
            raise ValidationFailed(
                f"No campaign {campaign_id} in this workspace.", field="campaign_id"
            )
        if name is not None and name != campaign.name:
            raise ValidationFailed(
                f"campaign {name!r} and campaign_id (campaign {campaign.name!r}) disagree.",
                field="campaign",
            )
        return campaign
    name = (name or "").strip()
    if not name:
        return None
    found = await session.scalar(
        select(Campaign).where(
            Campaign.workspace_id == principal.workspace_id, Campaign.name == name
        )
    )
    if found is not None:
        return found
    return await create_campaign(
        session, principal=principal, body=CampaignIn(name=name), outbox=outbox
    )


def _with_utm(url: str, utm: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    added = [(f"utm_{k}", v) for k, v in utm.items() if v and f"utm_{k}" not in present]
    if not added:
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, *added])))


def apply_utm(text: str, utm: dict[str, str] | None) -> str:
    """`text` with the campaign's UTM parameters on each of its http(s) links."""
    if not utm:
        return text

    def replace(match: re.Match[str]) -> str:
        raw = match.group(0)
        trimmed = raw.rstrip(_TRAILING)
        return _with_utm(trimmed, utm) + raw[len(trimmed) :]

    return _URL.sub(replace, text)
