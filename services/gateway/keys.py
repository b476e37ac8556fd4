"""API keys: issued once, stored as a hash, resolved on every call through a short cache.

A key is `<prefix><43 url-safe characters>` (256 random bits). With that much entropy a single
SHA-256 is enough to make the stored hash useless to a thief, and it stays cheap enough to
compute on every request (a slow password hash would cost milliseconds per call).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.models import ApiKey, Workspace
from shared.auth import PERMISSIONS, Principal, Role
from shared.errors import Conflict, NotFound, PermissionDenied, Unauthorized, Unavailable

log = logging.getLogger(__name__)

# Who may hand out or take back which role: nobody grants more than they hold.
ROLE_RANK: dict[str, int] = {"owner": 4, "admin": 3, "editor": 2, "reviewer": 2, "analyst": 1}


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """Who an API key speaks for."""

    key_id: UUID
    workspace_id: UUID
    role: Role
    timezone: str
    # The workspace's own request limit per window, when the operator set one.
    rate_limit: int | None = None
    # The member the key belongs to (None for keys issued outside of membership).
    member_id: UUID | None = None

    def principal(self) -> Principal:
        return Principal(
            workspace_id=self.workspace_id,
            role=self.role,
            principal_id=str(self.key_id),
            timezone=self.timezone,
        )

    def require(self, permission: str) -> KeyIdentity:
        if self.role not in PERMISSIONS[permission]:
            raise PermissionDenied(f"The role '{self.role}' may not do this ({permission}).")
        return self


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def issue_key(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    name: str,
    role: Role,
    prefix: str,
    created_by: str | None,
    member_id: UUID | None = None,
) -> tuple[ApiKey, str]:
    """Creates a key; returns the row and the secret, which is never available again."""
    secret = new_secret(prefix)
    key = ApiKey(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        name=name,
        role=role,
        display_prefix=secret[: len(prefix) + 6],
        secret_hash=hash_secret(secret),
        created_by=created_by,
        member_id=member_id,
    )
    session.add(key)
    await session.flush()
    await session.refresh(key)
    return key, secret


async def list_keys(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    limit: int,
    after: tuple[datetime, UUID] | None,
    include_revoked: bool,
) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.workspace_id == workspace_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    if after is not None:
        query = query.where((ApiKey.created_at, ApiKey.id) > after)
    query = query.order_by(ApiKey.created_at, ApiKey.id).limit(limit)
    return list((await session.scalars(query)).all())


async def revoke_key(
    session: AsyncSession, *, workspace_id: UUID, key_id: UUID, by_role: str
) -> ApiKey:
    key = await session.scalar(
        select(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id)
        .with_for_update()
    )
    if key is None or key.revoked_at is not None:
        raise NotFound(f"No active API key {key_id} in this workspace.", field="id")
    if ROLE_RANK[key.role] > ROLE_RANK[by_role]:
        raise PermissionDenied(f"The role '{by_role}' may not revoke a '{key.role}' key.")
    if key.role == "owner":
        # Serialises concurrent revocations of the last two owner keys on the workspace row.
        await session.execute(
            select(Workspace.id).where(Workspace.id == workspace_id).with_for_update()
        )
        owners = await session.scalar(
            select(func.count()).where(
                ApiKey.workspace_id == workspace_id,
                ApiKey.role == "owner",
                ApiKey.revoked_at.is_(None),
            )
        )
        if (owners or 0) <= 1:
            raise Conflict("This is the workspace's last owner key; create another one first.")
    key.revoked_at = func.now()
    await session.flush()
    await session.refresh(key)
    return key


async def find_identity(session: AsyncSession, *, secret_hash: str) -> KeyIdentity | None:
    row = (
        await session.execute(
            select(
                ApiKey.id,
                ApiKey.workspace_id,
                ApiKey.role,
                Workspace.timezone,
                Workspace.rate_limit,
                ApiKey.member_id,
            )
            .join(Workspace, Workspace.id == ApiKey.workspace_id)
            .where(ApiKey.secret_hash == secret_hash, ApiKey.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    return KeyIdentity(
        key_id=row.id,
        workspace_id=row.workspace_id,
        role=row.role,
        timezone=row.timezone,
        rate_limit=row.rate_limit,
        member_id=row.member_id,
    )


class KeyCache:
    """Identities by key hash for a few seconds, so a busy key is not a query per request.

    Only this process's revocations clear it: another replica keeps honouring a key it has
    cached for up to `ttl` seconds after the revocation (GATEWAY_KEY_CACHE_SECONDS).
    """

    def __init__(self, *, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[KeyIdentity | None, float]] = OrderedDict()

    def get(self, secret_hash: str) -> tuple[bool, KeyIdentity | None]:
        entry = self._entries.get(secret_hash)
        if entry is None:
            return False, None
        identity, expires = entry
        if expires < time.monotonic():
            del self._entries[secret_hash]
            return False, None
        return True, identity

    def put(self, secret_hash: str, identity: KeyIdentity | None) -> None:
        if self.ttl <= 0:
            return
        self._entries[secret_hash] = (identity, time.monotonic() + self.ttl)
        self._entries.move_to_end(secret_hash)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def revoked(self, secret_hash: str) -> None:
        # A tombstone rather than an eviction: a lookup racing the revoking transaction could
        # otherwise cache the key again before the commit. Should the revocation roll back,
        # the key is refused here for one TTL, which errs on the safe side.
        self._entries[secret_hash] = (None, time.monotonic() + max(self.ttl, 1.0))

    def forget_workspace(self, workspace_id: UUID) -> None:
        for secret_hash, (identity, _) in list(self._entries.items()):
            if identity is not None and identity.workspace_id == workspace_id:
                del self._entries[secret_hash]


class Authenticator:
    """Bearer key → identity, or 401."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], cache: KeyCache) -> None:
        self.sessions = sessions
        self.cache = cache

    async def identify(self, authorization: str | None) -> KeyIdentity | None:
        token = bearer_token(authorization)
        if token is None:
            return None
        secret_hash = hash_secret(token)
        hit, identity = self.cache.get(secret_hash)
        if hit:
            return identity
        try:
            async with self.sessions() as session:
                identity = await find_identity(session, secret_hash=secret_hash)
        except (SQLAlchemyError, OSError) as exc:
            # Not the client's fault, and not a crash: say so, and when to come back.
            log.warning("API key lookup failed: %r", exc)
            raise Unavailable(
                "API keys cannot be checked right now; try again shortly.",
                headers={"Retry-After": "5"},
            ) from exc
        # Unknown keys are not cached: a key created on another replica must work at once.
        if identity is not None:
            self.cache.put(secret_hash, identity)
        return identity

    async def authenticate(self, authorization: str | None) -> KeyIdentity:
        if bearer_token(authorization) is None:
            raise Unauthorized("An API key is required (Authorization: Bearer <key>).")
        identity = await self.identify(authorization)
        if identity is None:
            raise Unauthorized("The API key is not valid or has been revoked.")
        return identity
