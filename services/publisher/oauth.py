"""Connecting a channel with OAuth 2 (authorization code, PKCE S256 where the network uses it).

`start` stores the state (and the PKCE verifier) and answers the network's authorize URL;
`finish` checks the state, redeems the code at the network's token endpoint and connects the
channel with the credentials it got, exactly as a direct connect would.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters import Adapters
from services.publisher.adapters.base import Adapter
from services.publisher.channels import adapter_for, connect_channel
from services.publisher.crypto import Keyring
from services.publisher.models import Channel, OAuthState
from services.publisher.settings import PublisherSettings
from shared.errors import BadGateway, ValidationFailed
from shared.outbox import Outbox

STATE_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class OAuthFlow:
    authorize: str  # on the network's web host
    # A path on the API host (the adapter's base URL), or an absolute URL when the network
    # redeems codes on another host; the sandbox serves that path under the network's prefix.
    token: str
    scope: str
    pkce: bool
    # TikTok names the app `client_key` in both the authorize URL and the token form.
    client_param: str = "client_id"
    # "basic": HTTP Basic client authentication; "form": client_secret in the form body, for
    # networks whose token endpoint reads only the body.
    client_auth: str = "basic"
    # Further authorize parameters (Google's offline access, asked on every consent so a
    # refresh token comes back even when the user had granted the app before).
    extra: tuple[tuple[str, str], ...] = ()
    # Meta's Instagram and Threads logins answer a short-lived token (about an hour); it is
    # swapped at once for a long-lived one (60 days) with this grant at `/access_token`.
    exchange: str | None = None


FLOWS: dict[str, OAuthFlow] = {
    "x": OAuthFlow(
        "https://x.com/i/oauth2/authorize",
        "/2/oauth2/token",
        "tweet.read tweet.write users.read dm.read dm.write media.write offline.access",
        pkce=True,
    ),
    "mastodon": OAuthFlow("/oauth/authorize", "/oauth/token", "read write push", pkce=False),
    "facebook": OAuthFlow(
        "https://www.facebook.com/v21.0/dialog/oauth",
        "/v21.0/oauth/access_token",
        "pages_manage_posts,pages_read_engagement,pages_messaging",
        pkce=False,
    ),
    "instagram": OAuthFlow(
        "https://www.instagram.com/oauth/authorize",
        "https://api.instagram.com/oauth/access_token",
        "instagram_business_basic,instagram_business_content_publish,"
        "instagram_business_manage_comments,instagram_business_manage_messages",
        pkce=False,
        client_auth="form",
        exchange="ig_exchange_token",
    ),
    "threads": OAuthFlow(
        "https://threads.net/oauth/authorize",
        "/oauth/access_token",
        "threads_basic,threads_content_publish,threads_manage_replies,"
        "threads_read_replies,threads_manage_insights",
        pkce=False,
        client_auth="form",
        exchange="th_exchange_token",
    ),
    "linkedin": OAuthFlow(
        "https://www.linkedin.com/oauth/v2/authorization",
        "https://www.linkedin.com/oauth/v2/accessToken",
        "openid profile email w_member_social r_organization_social w_organization_social "
        "rw_organization_admin",
        pkce=False,
        client_auth="form",
    ),
    "tiktok": OAuthFlow(
        "https://www.tiktok.com/v2/auth/authorize/",
        "/v2/oauth/token/",
        "user.info.basic,user.info.profile,user.info.stats,video.list,video.publish,video.upload",
        pkce=True,
        client_param="client_key",
        client_auth="form",
    ),
    "youtube": OAuthFlow(
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        "https://www.googleapis.com/auth/youtube.upload "
        "https://www.googleapis.com/auth/youtube.force-ssl",
        pkce=False,
        extra=(("access_type", "offline"), ("prompt", "consent")),
    ),
}


def flow_for(adapters: Adapters, network: str) -> OAuthFlow:
    adapter_for(adapters, network)
    flow = FLOWS.get(network)
    if flow is None:
        raise ValidationFailed(
            f"{network} is connected with credentials (POST /v1/channels), not OAuth.",
            field="network",
        )
    return flow


def authorize_base(
    settings: PublisherSettings, network: str, flow: OAuthFlow, api_base: str
) -> str:
    if settings.sandbox_url or not flow.authorize.startswith("https://"):
        return api_base + "/oauth/authorize"
    return flow.authorize


def token_url(flow: OAuthFlow, adapter: Adapter) -> str:
    if not flow.token.startswith("https://"):
        return adapter.base_url + flow.token
    if adapter.base_url == adapter.real_url:
        return flow.token
    return adapter.base_url + urlsplit(flow.token).path


async def start(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    network: str,
    redirect_uri: str,
    adapters: Adapters,
    settings: PublisherSettings,
) -> str:
    flow = flow_for(adapters, network)
    adapter = adapters.get(network)
    assert adapter is not None
    if adapter.app is None:
        raise ValidationFailed(f"No {network} app is configured on this Herald.", field="network")
    if not redirect_uri.startswith(("https://", "http://")):
        raise ValidationFailed("redirect_uri must be an absolute URL.", field="redirect_uri")
    state = secrets.token_urlsafe(24)
    params = {
        "response_type": "code",
        flow.client_param: adapter.app.client_id,
        "redirect_uri": redirect_uri,
        "scope": flow.scope,
        "state": state,
        **dict(flow.extra),
    }
    verifier = None
    if flow.pkce:
        verifier = secrets.token_urlsafe(48)
        params["code_challenge"] = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .decode()
            .rstrip("=")
        )
        params["code_challenge_method"] = "S256"
    now = datetime.now(UTC)
    await session.execute(delete(OAuthState).where(OAuthState.expires_at < now))
    session.add(
        OAuthState(
            state=state,
            workspace_id=workspace_id,
            network=network,
            redirect_uri=redirect_uri,
            code_verifier=verifier,
            expires_at=now + STATE_TTL,
        )
    )
    await session.flush()
    base = authorize_base(settings, network, flow, adapter.base_url)
    return f"{base}?{urlencode(params)}"


async def finish(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    network: str,
    code: str,
    state: str,
    timezone: str,
    adapters: Adapters,
    keyring: Keyring,
    outbox: Outbox,
) -> tuple[Channel, bool]:
    flow = flow_for(adapters, network)
    adapter = adapters.get(network)
    assert adapter is not None and adapter.app is not None
    pending = await session.scalar(
        select(OAuthState).where(OAuthState.state == state).with_for_update()
    )
    if (
        pending is None
        or pending.workspace_id != workspace_id
        or pending.network != network
        or pending.expires_at < datetime.now(UTC)
    ):
        raise ValidationFailed(
            "Unknown or expired state; start the connection again.", field="state"
        )
    await session.delete(pending)
    form: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        flow.client_param: adapter.app.client_id,
    }
    if pending.code_verifier:
        form["code_verifier"] = pending.code_verifier
    client_auth: dict[str, Any] = {}
    if flow.client_auth == "form":
        form["client_secret"] = adapter.app.client_secret
    else:
        client_auth["auth"] = (adapter.app.client_id, adapter.app.client_secret)
    try:
        r = await adapter.client.post(token_url(flow, adapter), data=form, **client_auth)
    except httpx.TransportError as exc:
        raise BadGateway(f"{network} could not be reached to finish connecting.") from exc
    if r.status_code != 200 or "access_token" not in r.text:
        # TikTok answers some refusals with 200 and an `error` body.
        raise ValidationFailed(
            f"{network} refused the authorization code: {r.text[:300]}", field="code"
        )
    issued = r.json()
    if flow.exchange:
        issued = await long_lived(
            network, flow.exchange, issued, adapter, adapter.app.client_secret
        )
    credentials: dict[str, Any] = {"access_token": issued["access_token"]}
    if issued.get("refresh_token"):
        credentials["refresh_token"] = issued["refresh_token"]
    if issued.get("expires_in"):
        credentials["expires_at"] = int(time.time() + int(issued["expires_in"]))
    if issued.get("scope"):
        credentials["scope"] = issued["scope"]
    if network == "mastodon" and not adapters.settings.sandbox_url:
        credentials["instance_url"] = adapter.base_url
    return await connect_channel(
        session,
        workspace_id=workspace_id,
        network=network,
        credentials=credentials,
        name=None,
        timezone=timezone,
        adapters=adapters,
        keyring=keyring,
        outbox=outbox,
    )


async def long_lived(
    network: str, grant: str, short: dict[str, Any], adapter: Adapter, secret: str
) -> dict[str, Any]:
    try:
        r = await adapter.client.get(
            adapter.base_url + "/access_token",
            params={
                "grant_type": grant,
                "client_secret": secret,
                "access_token": short["access_token"],
            },
        )
    except httpx.TransportError as exc:
        raise BadGateway(f"{network} could not be reached to finish connecting.") from exc
    if r.status_code != 200 or "access_token" not in r.text:
        raise ValidationFailed(
            f"{network} refused to extend the new token: {r.text[:300]}", field="code"
        )
    issued: dict[str, Any] = r.json()
    return issued
