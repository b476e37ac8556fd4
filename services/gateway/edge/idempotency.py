"""`Idempotency-Key` on POST, for every endpoint behind the gateway, shared by all replicas.

The first request with a key runs and its response is stored; the same key with the same
request replays that response; with a different request it is refused (422); while the first
is still running, the second gets 409. Keys belong to the API key that sent them (or to the
platform admin), never to the whole workspace: another key of the workspace (a lower role)
must not read what this one was answered. They live `idempotency_ttl_hours`.

Responses that say "try again" (429, 5xx) are not stored: the client's retry runs for real.
Responses that carry a secret shown once (a new API key, an invitation token, a webhook
secret) say so with `Cache-Control: no-store`; they are never stored, only the fact that the
request ran and its status: a replay is refused with a 409 that says why, since the secret
exists nowhere any more (the client revokes what it lost and asks again).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.edge.asgi import ADMIN, Answered, Callers, header, send_problem
from services.gateway.edge.keys import KeyIdentity
from services.gateway.models import IdempotencyRecord
from shared.db import unit_of_work
from shared.errors import Conflict, DomainError, ValidationFailed

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")


class PayloadTooLarge(DomainError):
    status, title, kind = 413, "Payload too large", "payload-too-large"


def carries_secret(headers: list[tuple[bytes, bytes]]) -> bool:
    """`Cache-Control: no-store`: the endpoint's way of saying its answer must not be kept."""
    return any(
        name.lower() == b"cache-control" and b"no-store" in value.lower() for name, value in headers
    )


def resource_id(body: bytes) -> str | None:
    """The `id` of what a withheld response created, so a retry can be told which one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return str(found) if isinstance(found, str | int) else None


def scope_of(caller: KeyIdentity | str) -> str:
    """Who an Idempotency-Key belongs to: the API key (or the platform admin)."""
    return ADMIN if caller == ADMIN else f"key:{caller.key_id}"  # type: ignore[union-attr]


class SecretNotKept(Conflict):
    def __init__(self, original_status: int, created: str | None) -> None:
        extra: dict[str, Any] = {"original_status": original_status}
        if created:
            extra["resource_id"] = created
        super().__init__(
            "This request already ran, and its response carried a secret that is shown once "
            "and never stored, so it cannot be replayed. Look the result up (or revoke it) "
            "and send a new request with a new Idempotency-Key.",
            field="Idempotency-Key",
            extra=extra,
        )


@dataclass
class Claim:
    outcome: Literal["run", "replay", "mismatch", "in_flight"]
    record: IdempotencyRecord | None = None


def fingerprint(*, method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def claim(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    now: datetime,
    ttl: timedelta,
    lock_for: timedelta,
) -> Claim:
    fresh = {
        "fingerprint": fingerprint,
        "status": "in_flight",
        "locked_until": now + lock_for,
        "response_status": None,
        "response_headers": None,
        "response_body": None,
        "created_at": now,
        "expires_at": now + ttl,
    }
    inserted = await session.scalar(
        pg_insert(IdempotencyRecord)
        .values(scope=scope, key=key, **fresh)
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.key)
    )
    if inserted is not None:
        return Claim("run")
    record = await session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .with_for_update()
    )
    if record is None or record.expires_at <= now:
        # Expired (or removed a moment ago after a failure): the key starts over.
        await session.execute(
            pg_insert(IdempotencyRecord)
            .values(scope=scope, key=key, **fresh)
            .on_conflict_do_update(index_elements=["scope", "key"], set_=fresh)
        )
        return Claim("run")
    if record.fingerprint != fingerprint:
        return Claim("mismatch", record)
    if record.status == "done":
        return Claim("replay", record)
    if record.locked_until > now:
        return Claim("in_flight", record)
    # The process that ran it died before it could answer: this request takes over.
    record.locked_until = now + lock_for
    await session.flush()
    return Claim("run")


async def complete(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes | None,
    created: str | None = None,
) -> None:
    """Stores the response; `body=None` keeps only its status and the id of what it
    created (a secret was in it)."""
    if body is None:
        kept = [["resource-id", created]] if created else []
    else:
        kept = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(
            status="done",
            response_status=status,
            response_headers=kept,
            response_body=body,
        )
    )


async def release(session: AsyncSession, *, scope: str, key: str) -> None:
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    result: Any = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now)
    )
    return int(result.rowcount or 0)


Replay = tuple[int, list[tuple[bytes, bytes]], bytes]


def _answer_to(got: Claim) -> DomainError | Replay | None:
    """What a claim answers without running the request: a problem, the stored response, or
    None (the request runs)."""
    stored = got.record
    if got.outcome == "mismatch":
        return ValidationFailed(
            "This Idempotency-Key was already used with a different request.",
            field="Idempotency-Key",
        )
    if got.outcome == "in_flight":
        return Conflict(
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            headers={"Retry-After": "1"},
        )
    if got.outcome != "replay" or stored is None:
        return None
    status = stored.response_status or 200
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.response_headers or []]
    if stored.response_body is None:
        created = dict(headers).get(b"resource-id")
        return SecretNotKept(status, created.decode() if created else None)
    return status, headers, stored.response_body


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        sessions: async_sessionmaker[AsyncSession],
        callers: Callers,
        ttl: timedelta,
        lock_for: timedelta,
        max_body: int,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.callers = callers
        self.ttl = ttl
        self.lock_for = lock_for
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = header(scope, HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 255 or not key.isprintable():
            error = ValidationFailed(
                "Idempotency-Key must be 1 to 255 printable characters.", field="Idempotency-Key"
            )
            await send_problem(send, scope, error)
            return
        caller = await self.callers.of(scope, send)
        if isinstance(caller, Answered):
            return
        if caller is None:
            # Unauthenticated: the route refuses it; nothing worth remembering.
            await self.app(scope, receive, send)
            return
        owner = scope_of(caller)

        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await send_problem(
                    send,
                    scope,
                    PayloadTooLarge(
                        "A request with an Idempotency-Key may carry at most "
                        f"{self.max_body} bytes."
                    ),
                )
                return
            if not message.get("more_body", False):
                break
        print_ = fingerprint(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b""),
            body=bytes(body),
        )
        now = datetime.now(UTC)
        async with unit_of_work(self.sessions) as session:
            got = await claim(
                session,
                scope=owner,
                key=key,
                fingerprint=print_,
                now=now,
                ttl=self.ttl,
                lock_for=self.lock_for,
            )
            # Read inside the transaction: the record is not used after it.
            answer = _answer_to(got)
        if answer is None:
            await self._run(scope, receive, send, owner=owner, key=key, body=bytes(body))
        elif isinstance(answer, DomainError):
            await send_problem(send, scope, answer)
        else:
            status, headers, payload = answer
            await send(
                {"type": "http.response.start", "status": status, "headers": [*headers, REPLAYED]}
            )
            await send({"type": "http.response.body", "body": payload})

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, *, owner: str, key: str, body: bytes
    ) -> None:
        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        last: Message | None = None

        async def capture(message: Message) -> None:
            nonlocal status, headers, last
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # The answer ends once it is on record: a retry sent the moment the
                    # client has it is replayed, never refused as still in progress.
                    last = message
                    return
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            async with unit_of_work(self.sessions) as session:
                await release(session, scope=owner, key=key)
            if last is not None:  # it failed after answering (a background task)
                await send(last)
            raise
        try:
            await self._record(owner=owner, key=key, status=status, headers=headers, chunks=chunks)
        finally:
            if last is not None:
                await send(last)

    async def _record(
        self,
        *,
        owner: str,
        key: str,
        status: int,
        headers: list[tuple[bytes, bytes]],
        chunks: list[bytes],
    ) -> None:
        async with unit_of_work(self.sessions) as session:
            if _retryable(status):
                await release(session, scope=owner, key=key)
            else:
                body = b"".join(chunks)
                secret = carries_secret(headers)
                await complete(
                    session,
                    scope=owner,
                    key=key,
                    status=status,
                    headers=headers,
                    body=None if secret else body,
                    created=resource_id(body) if secret else None,
                )
