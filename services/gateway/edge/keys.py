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

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.models import ApiKey, Workspace
from shared.auth import PERMISSIONS, Principal, Role
from shared.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger(__name__)

# Every replica listens here for keys revoked or changed elsewhere (LISTEN/NOTIFY): payloads
# are `revoked:<secret hash>`, `changed:<secret hash>` or `workspace:<id>`.
KEYS_CHANNEL = "gateway_keys"

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


async def other_owner_keys(
    session: AsyncSession, *, workspace_id: UUID, besides: ColumnElement[bool]
) -> int:
    """The workspace's active owner keys that `besides` keeps (those that would remain after
    a change), counted with the workspace row locked: concurrent demotions and revocations
    of the last owners are serialised there."""
    await session.execute(
        select(Workspace.id).where(Workspace.id == workspace_id).with_for_update()
    )
    count = await session.scalar(
        select(func.count()).where(
            ApiKey.workspace_id == workspace_id,
            ApiKey.role == "owner",
            ApiKey.revoked_at.is_(None),
            besides,
        )
    )
    return int(count or 0)


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
    if key.role == "owner" and not await other_owner_keys(
        session, workspace_id=workspace_id, besides=ApiKey.id != key.id
    ):
        raise Conflict("This is the workspace's last owner key; create another one first.")
    key.revoked_at = func.now()
    await session.flush()
    await session.refresh(key)
    await announce(session, f"revoked:{key.secret_hash}")
    return key


async def announce(session: AsyncSession, *payloads: str) -> None:
    """Tells every replica, when this transaction commits, to drop what it cached."""
    for payload in payloads:
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": KEYS_CHANNEL, "payload": payload},
        )


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

    A revocation or role change on any replica reaches every other one through NOTIFY
    (`announce`, `apply`) as soon as it commits. The cache is trusted only while that channel
    is listened to: when the listening connection is lost, every lookup goes to the database
    until it is back, and what was cached before is dropped (a notification may have been
    missed). `ttl` (GATEWAY_KEY_CACHE_SECONDS) only bounds how long an entry lives.
    """

    def __init__(self, *, ttl: float, size: int, trusted: bool = True) -> None:
        self.ttl = ttl
        self.size = size
        self.trusted = trusted
        self._entries: OrderedDict[str, tuple[KeyIdentity | None, float]] = OrderedDict()

    def listening(self, now: bool) -> None:
        """The notification channel was (re)joined, or lost: start over either way."""
        self._entries.clear()
        self.trusted = now

    def apply(self, payload: str) -> None:
        """A notification from `announce`, sent by whichever replica made the change."""
        kind, _, value = payload.partition(":")
        if kind == "revoked":
            self.revoked(value)
        elif kind == "changed":
            self._entries.pop(value, None)
        elif kind == "workspace":
            try:
                self.forget_workspace(UUID(value))
            except ValueError:
                log.warning("unknown key notification %r", payload)
        else:
            log.warning("unknown key notification %r", payload)

    def get(self, secret_hash: str) -> tuple[bool, KeyIdentity | None]:
        if not self.trusted:
            return False, None
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


class FailedAttempts:
    """Failed authentications per client address and fixed window, in this replica.

    An unknown key costs a database query (it cannot be cached: a key just issued on another
    replica must work at once), so an address that keeps guessing is stopped here before the
    query, for the rest of the window. Per replica: N replicas let N times the limit through,
    which still bounds the queries one address can cause.
    """

    def __init__(self, *, limit: int, window_seconds: float, size: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.size = size
        self._counts: dict[str, tuple[float, int]] = {}

    def _window_start(self, now: float) -> float:
        return now - now % self.window

    def retry_after(self, address: str, now: float) -> int | None:
        """Seconds to wait when `address` used up its failures, else None."""
        start, count = self._counts.get(address, (0.0, 0))
        if self.limit <= 0 or start != self._window_start(now) or count < self.limit:
            return None
        return max(1, int(start + self.window - now + 0.999))

    def failed(self, address: str, now: float) -> None:
        start = self._window_start(now)
        if len(self._counts) >= self.size:
            self._counts = {a: c for a, c in self._counts.items() if c[0] == start}
            if len(self._counts) >= self.size:
                self._counts.clear()
        known, count = self._counts.get(address, (start, 0))
        self._counts[address] = (start, count + 1 if known == start else 1)


class Authenticator:
    """Bearer key → identity, or 401 (429 for an address that failed too often)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        cache: KeyCache,
        failures: FailedAttempts | None = None,
    ) -> None:
        self.sessions = sessions
        self.cache = cache
        self.failures = failures

    def _check_address(self, client: str | None) -> None:
        if self.failures is None or client is None:
            return
        wait = self.failures.retry_after(client, time.time())
        if wait is not None:
            raise RateLimited(
                "Too many requests with API keys that are not valid from this address; "
                f"retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )

    async def identify(
        self, authorization: str | None, *, client: str | None = None
    ) -> KeyIdentity | None:
        token = bearer_token(authorization)
        if token is None:
            return None
        secret_hash = hash_secret(token)
        hit, identity = self.cache.get(secret_hash)
        if hit and identity is not None:
            return identity
        self._check_address(client)
        if hit:
            self._failed(client)
            return None
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
        else:
            self._failed(client)
        return identity

    def _failed(self, client: str | None) -> None:
        if self.failures is not None and client is not None:
            self.failures.failed(client, time.time())

    async def authenticate(
        self, authorization: str | None, *, client: str | None = None
    ) -> KeyIdentity:
        if bearer_token(authorization) is None:
            raise Unauthorized("An API key is required (Authorization: Bearer <key>).")
        identity = await self.identify(authorization, client=client)
        if identity is None:
            raise Unauthorized("The API key is not valid or has been revoked.")
        return identity
