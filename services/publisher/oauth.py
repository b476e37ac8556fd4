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
from services.publisher.adapters.base import Adapter, NetworkError
from services.publisher.channels import adapter_for, connect_channel
from services.publisher.crypto import Keyring
from services.publisher.models import Channel, OAuthState
from services.publisher.settings import NetworkApp, PublisherSettings
from shared.errors import BadGateway, ValidationFailed
from shared.outbound import OutboundRefused
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
        "tweet.read tweet.write users.read dm.read dm.write media.write block.read block.write "
        "offline.access",
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
    keyring: Keyring | None = None,
    instance: str | None = None,
) -> str:
    flow = flow_for(adapters, network)
    adapter = adapters.get(network)
    assert adapter is not None
    if not redirect_uri.startswith(("https://", "http://")):
        raise ValidationFailed("redirect_uri must be an absolute URL.", field="redirect_uri")
    state = secrets.token_urlsafe(24)
    instance_app: NetworkApp | None = None
    if network == "mastodon" and instance is not None:
        assert keyring is not None
        instance_app = await register_on_instance(
            adapter, instance=instance, redirect_uri=redirect_uri, scope=flow.scope
        )
    app = instance_app or adapter.app
    if app is None:
        raise ValidationFailed(
            f"No {network} app is configured on this Herald"
            + ("; give the instance to connect to (instance=https://…)."
               if network == "mastodon" else "."),
            field="instance" if network == "mastodon" else "network",
        )
    params = {
        "response_type": "code",
        flow.client_param: app.client_id,
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
    pending = OAuthState(
        state=state,
        workspace_id=workspace_id,
        network=network,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
        expires_at=now + STATE_TTL,
    )
    if instance_app is not None and keyring is not None:
        # The instance's own app credentials wait for the callback, sealed like a channel's.
        pending.instance_url = instance
        pending.app_key_id, pending.app_credentials = keyring.seal(
            instance_app.model_dump(), context=state
        )
    session.add(pending)
    await session.flush()
    if instance_app is not None and instance is not None and not settings.sandbox_url:
        return f"{instance.rstrip('/')}/oauth/authorize?{urlencode(params)}"
    base = authorize_base(settings, network, flow, adapter.base_url)
    return f"{base}?{urlencode(params)}"


async def register_on_instance(
    adapter: Adapter, *, instance: str, redirect_uri: str, scope: str
) -> NetworkApp:
    """Registers Herald as an app on the Mastodon instance (`POST /api/v1/apps`), through the
    outbound rules: any public instance works, none has to be configured beforehand."""
    credentials = {"instance_url": instance}
    await adapter.check_credentials(credentials)
    try:
        r = await adapter.call(
            "POST", adapter.url("/api/v1/apps", credentials),
            data={"client_name": "Herald", "redirect_uris": redirect_uri, "scopes": scope},
        )
    except NetworkError as exc:
        raise BadGateway(f"The instance could not be reached: {exc.message}") from exc
    if r.status_code != 200 or "client_id" not in r.text:
        raise ValidationFailed(
            f"The instance refused to register the app: {r.text[:300]}", field="instance"
        )
    body = r.json()
    return NetworkApp(client_id=str(body["client_id"]), client_secret=str(body["client_secret"]))


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
    assert adapter is not None
    pending = await claim_state(session, workspace_id=workspace_id, network=network, state=state)
    app = app_of(pending, adapter, keyring)
    issued = await redeem(flow, adapter, pending, app, code)
    if flow.exchange:
        issued = await long_lived(network, flow.exchange, issued, adapter, app.client_secret)
    credentials = credentials_of(issued)
    instance = pending.instance_url
    if instance is not None:
        credentials["instance_url"] = instance
        # The instance's app, kept with the token it issued (to revoke it on removal).
        credentials["client_id"], credentials["client_secret"] = app.client_id, app.client_secret
    elif network == "mastodon" and not adapters.settings.sandbox_url:
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


async def claim_state(
    session: AsyncSession, *, workspace_id: uuid.UUID, network: str, state: str
) -> OAuthState:
    """The connection this callback finishes, used up: a state is good for one callback."""
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
    return pending


def app_of(pending: OAuthState, adapter: Adapter, keyring: Keyring | None) -> NetworkApp:
    """The app the code was issued to: the configured one, or the one registered on the
    user's Mastodon instance when the connection began."""
    app = adapter.app
    if (
        pending.instance_url is not None
        and pending.app_credentials is not None
        and keyring is not None
    ):
        app = NetworkApp(**keyring.open(pending.app_credentials, key_id=pending.app_key_id or "",
                                        context=pending.state))
    if app is None:
        raise ValidationFailed(
            f"No {adapter.network} app is configured on this Herald.", field="network"
        )
    return app


async def redeem(
    flow: OAuthFlow, adapter: Adapter, pending: OAuthState, app: NetworkApp, code: str
) -> dict[str, Any]:
    """The authorization code exchanged for tokens at the network's token endpoint."""
    network = adapter.network
    form: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        flow.client_param: app.client_id,
    }
    if pending.code_verifier:
        form["code_verifier"] = pending.code_verifier
    client_auth: dict[str, Any] = {}
    if flow.client_auth == "form":
        form["client_secret"] = app.client_secret
    else:
        client_auth["auth"] = (app.client_id, app.client_secret)
    url = token_url(flow, adapter)
    if pending.instance_url is not None:
        url = adapter.url(flow.token, {"instance_url": pending.instance_url})
    try:
        r = await adapter.client_for(url).post(url, data=form, **client_auth)
    except (httpx.TransportError, OutboundRefused) as exc:
        raise BadGateway(f"{network} could not be reached to finish connecting.") from exc
    if r.status_code != 200 or "access_token" not in r.text:
        # TikTok answers some refusals with 200 and an `error` body.
        raise ValidationFailed(
            f"{network} refused the authorization code: {r.text[:300]}", field="code"
        )
    issued: dict[str, Any] = r.json()
    return issued


def credentials_of(issued: dict[str, Any]) -> dict[str, Any]:
    """What a token answer gives to keep: the tokens, when the access token ends, the scope."""
    credentials: dict[str, Any] = {"access_token": issued["access_token"]}
    if issued.get("refresh_token"):
        credentials["refresh_token"] = issued["refresh_token"]
    if issued.get("expires_in"):
        credentials["expires_at"] = int(time.time() + int(issued["expires_in"]))
    if issued.get("scope"):
        credentials["scope"] = issued["scope"]
    return credentials


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
