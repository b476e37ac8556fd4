"""Secrets at rest and in logs: someone with a copy of the database (a backup, a replica, a
read-only role) or of the logs, or a local user on the machine running `make run`, must not
find the secrets that sign in a workspace's name."""

from __future__ import annotations

import base64
import os
import stat
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy import runner
from services.gateway.models import WebhookSubscription, Workspace
from services.gateway.reseal import TARGET as gateway_target
from services.gateway.settings import GatewaySettings
from services.gateway.webhooks.delivery import signing_secrets
from services.gateway.webhooks.subscriptions import store_secrets, stored_secrets
from services.publisher.models import Channel
from services.publisher.reseal import TARGET as publisher_target
from services.publisher.settings import PublisherSettings
from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.reseal import remaining, reseal_all
from shared.sealing import DEVELOPMENT_KEY, DEVELOPMENT_KEY_ID, Keyring
from tests.gateway.support import bearer, running_gateway

NEW_KEY_ID = "k2"
NEW_KEY = base64.b64encode(b"a-second-key-of-thirty-two-bytes").decode()


def key_pair() -> dict[str, str]:
    return {DEVELOPMENT_KEY_ID: DEVELOPMENT_KEY, NEW_KEY_ID: NEW_KEY}


async def test_webhook_signing_secrets_are_not_stored_in_clear(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        key = (await gw.workspace())["api_key"]
        r = await gw.client.post(
            "/v1/webhooks", headers=bearer(key), json={"url": "https://x.test/h", "events": ["*"]}
        )
        assert r.status_code == 201, r.text
        hook = r.json()
        rotated = await gw.client.post(
            f"/v1/webhooks/{hook['id']}/rotate-secret", headers=bearer(key)
        )
        assert rotated.status_code == 200, rotated.text
        secrets = [hook["secret"], rotated.json()["secret"]]
        async with gw.runtime.sessions() as session:
            row = (
                await session.execute(
                    text("SELECT t::text FROM gateway.webhook_subscriptions t WHERE id = :id"),
                    {"id": uuid.UUID(hook["id"])},
                )
            ).scalar_one()
            subscription = await session.get(WebhookSubscription, uuid.UUID(hook["id"]))
        for secret in secrets:
            raw = secret.removeprefix("whsec_")
            assert raw not in row and raw.encode().hex() not in row
        # Both still sign: the current one and the rotated-out one during its overlap.
        assert subscription is not None
        keyring = gw.settings.keyring()
        assert signing_secrets(subscription, datetime.now(UTC), keyring=keyring) == secrets[::-1]


async def test_database_errors_do_not_carry_bound_values(database_url):
    # A statement fails on one value; without hidden parameters the error (and every log
    # line made from it) lists all of them: tokens, sealed credentials, message text.
    engine = make_engine(database_url, pool_size=1)
    token = f"sk-{uuid.uuid4().hex}"
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as failure:
                await conn.execute(
                    text("SELECT 1 / CAST(:zero AS integer), CAST(:token AS text)"),
                    {"zero": 0, "token": token},
                )
    finally:
        await engine.dispose()
    assert "division by zero" in str(failure.value)
    assert token not in str(failure.value)
    assert token not in repr(failure.value)


def test_run_files_holding_tokens_are_readable_by_their_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("HERALD_TEST_UNSET_TOKEN", raising=False)
    fresh = tmp_path / "state" / "admin_token"
    fresh.parent.mkdir()
    token = runner._secret(fresh, "HERALD_TEST_UNSET_TOKEN")
    assert token and stat.S_IMODE(fresh.stat().st_mode) == 0o600
    # A file an older run left world-readable is narrowed when it is read again.
    old = tmp_path / "state" / "internal_token"
    old.write_text("left-by-an-older-run")
    os.chmod(old, 0o644)
    assert runner._secret(old, "HERALD_TEST_UNSET_TOKEN") == "left-by-an-older-run"
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    demo = tmp_path / "state" / "demo.json"
    runner.write_private(demo, '{"api_key": "hk_live_x"}')
    assert stat.S_IMODE(demo.stat().st_mode) == 0o600


@dataclass
class Sealed:
    """Rows sealed with the development key, and what each must open to."""

    credentials: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)
    secrets: dict[uuid.UUID, tuple[str, str | None]] = field(default_factory=dict)


def whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


async def seal_rows(sessions: async_sessionmaker[AsyncSession], count: int) -> Sealed:
    """`count` channels and webhook subscriptions sealed with the development key, and one
    subscription from before secrets were sealed (in clear)."""
    old = Keyring(keys={DEVELOPMENT_KEY_ID: DEVELOPMENT_KEY}, active_key_id=DEVELOPMENT_KEY_ID)
    now = datetime.now(UTC)
    sealed = Sealed()
    async with unit_of_work(sessions) as session:
        workspace = Workspace(id=uuid.uuid4(), name="Acme", timezone="UTC")
        session.add(workspace)
        await session.flush()
        for i in range(count):
            channel = Channel(
                id=uuid.uuid4(),
                workspace_id=workspace.id,
                network="x",
                external_id=f"a{i}",
                name="Acme",
                timezone="UTC",
                status="active",
            )
            credentials = {"access_token": f"token-{i}-{uuid.uuid4().hex}"}
            channel.key_id, channel.credentials = old.seal(credentials, context=str(channel.id))
            sealed.credentials[channel.id] = credentials
            subscription = subscription_of(workspace.id, now)
            current, previous = whsec(), whsec()
            store_secrets(subscription, current=current, previous=previous, keyring=old)
            sealed.secrets[subscription.id] = (current, previous)
            session.add_all([channel, subscription])
        legacy = subscription_of(workspace.id, now)
        legacy.secret = whsec()
        sealed.secrets[legacy.id] = (legacy.secret, None)
        session.add(legacy)
    return sealed


def subscription_of(workspace_id: uuid.UUID, now: datetime) -> WebhookSubscription:
    return WebhookSubscription(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        url="https://x.test/h",
        events=["*"],
        enabled=True,
        version=1,
        previous_secret_expires_at=now + timedelta(hours=1),
    )


async def opened(sessions: async_sessionmaker[AsyncSession], keyring: Keyring) -> Sealed:
    """Every row opened with `keyring` (raises if one does not open)."""
    found = Sealed()
    async with sessions() as session:
        for channel in await session.scalars(select(Channel)):
            found.credentials[channel.id] = keyring.open(
                channel.credentials, key_id=channel.key_id, context=str(channel.id)
            )
        for subscription in await session.scalars(select(WebhookSubscription)):
            found.secrets[subscription.id] = stored_secrets(subscription, keyring=keyring)
    return found


async def key_ids(sessions: async_sessionmaker[AsyncSession]) -> list[str | None]:
    async with sessions() as session:
        channels = (await session.scalars(select(Channel.key_id))).all()
        hooks = (await session.scalars(select(WebhookSubscription.key_id))).all()
    return [*channels, *hooks]


async def test_reseal_moves_every_secret_to_the_active_key_and_old_rows_open_until_then(
    make_settings,
):
    rotated = {"encryption_keys": key_pair(), "active_key_id": NEW_KEY_ID}
    publisher = make_settings(PublisherSettings, **rotated)
    gateway = make_settings(GatewaySettings, **rotated)
    keyring = publisher.keyring()
    engine = make_engine(publisher.database_url, pool_size=2)
    try:
        sessions = make_sessionmaker(engine)
        sealed = await seal_rows(sessions, count=5)
        # The new key is active: rows sealed with the old one still open.
        assert await opened(sessions, keyring) == sealed

        # Interrupted after one batch of each: what moved and what did not both open.
        await reseal_all(sessions, target=publisher_target, keyring=keyring, batch=2, max_batches=1)
        await reseal_all(sessions, target=gateway_target, keyring=keyring, batch=2, max_batches=1)
        assert await remaining(sessions, target=publisher_target, keyring=keyring) == 3
        assert await remaining(sessions, target=gateway_target, keyring=keyring) == 4
        assert await opened(sessions, keyring) == sealed

        # Run again: it carries on until nothing is left on the old key or in clear.
        assert await reseal_all(sessions, target=publisher_target, keyring=keyring, batch=2) == 3
        assert await reseal_all(sessions, target=gateway_target, keyring=keyring, batch=2) == 4
        assert set(await key_ids(sessions)) == {NEW_KEY_ID}
        async with sessions() as session:
            clear = await session.scalars(
                select(WebhookSubscription.id).where(WebhookSubscription.secret.is_not(None))
            )
            assert clear.all() == []

        # The old key can now go: everything opens with the new one alone.
        only_new = Keyring(keys={NEW_KEY_ID: NEW_KEY}, active_key_id=NEW_KEY_ID)
        assert await opened(sessions, only_new) == sealed
        assert gateway.keyring().active_key_id == NEW_KEY_ID
    finally:
        await engine.dispose()
