"""Client webhook subscriptions: what a workspace wants to hear about, and where.

Every lookup is by (workspace, id): another workspace's subscription does not exist here.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from services.gateway.webhooks.events import ALL_EVENTS, PUBLIC_EVENTS, TEST_EVENT
from shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from shared.events import Envelope
from shared.outbound import OutboundPolicy, OutboundRefused
from shared.sealing import Keyring

SECRET_PREFIX = "whsec_"
NOTIFY_CHANNEL = "gateway_webhooks_due"


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def store_secrets(
    subscription: WebhookSubscription, *, current: str, previous: str | None, keyring: Keyring
) -> None:
    """Seals both signing secrets with the active key (they always share one key id)."""
    context = f"webhook:{subscription.id}"
    subscription.key_id, subscription.sealed_secret = keyring.seal(
        {"secret": current}, context=f"{context}:current"
    )
    subscription.sealed_previous_secret = (
        keyring.seal({"secret": previous}, context=f"{context}:previous")[1] if previous else None
    )
    subscription.secret = None
    subscription.previous_secret = None


def stored_secrets(
    subscription: WebhookSubscription, *, keyring: Keyring
) -> tuple[str, str | None]:
    """(current, previous) signing secrets; rows from before sealing still hold them in clear."""
    if subscription.key_id is None or subscription.sealed_secret is None:
        if subscription.secret is None:
            raise LookupError(f"webhook subscription {subscription.id} holds no secret")
        return subscription.secret, subscription.previous_secret
    context = f"webhook:{subscription.id}"
    current = keyring.open(
        subscription.sealed_secret, key_id=subscription.key_id, context=f"{context}:current"
    )["secret"]
    previous = None
    if subscription.sealed_previous_secret is not None:
        previous = keyring.open(
            subscription.sealed_previous_secret,
            key_id=subscription.key_id,
            context=f"{context}:previous",
        )["secret"]
    return str(current), None if previous is None else str(previous)


def check_secret(secret: str) -> str:
    """A caller's own secret: `whsec_` and base64 of 24 to 64 random bytes."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed(
            "The secret must be 'whsec_' followed by base64.", field="secret"
        ) from exc
    if not 24 <= len(key) <= 64:
        raise ValidationFailed(
            "The secret must carry 24 to 64 bytes (base64 after 'whsec_').", field="secret"
        )
    return SECRET_PREFIX + raw


async def check_url(url: str, *, outbound: OutboundPolicy) -> str:
    """The endpoint must be one Herald may call: the outbound rules (public address, https
    outside development) apply here and again at every delivery."""
    try:
        return await outbound.vet(url, unresolved_ok=True)
    except OutboundRefused as exc:
        raise ValidationFailed(f"The endpoint is refused: {exc.reason}", field="url") from exc


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise ValidationFailed("Subscribe to at least one event (or '*').", field="events")
    unknown = [e for e in events if e != ALL_EVENTS and e not in PUBLIC_EVENTS]
    if unknown:
        raise ValidationFailed(
            f"Unknown event(s): {', '.join(unknown)}. Known: {', '.join(PUBLIC_EVENTS)}, or '*'.",
            field="events",
        )
    return sorted(set(events))


async def create_subscription(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    url: str,
    events: list[str],
    secret: str | None,
    outbound: OutboundPolicy,
    keyring: Keyring,
    now: datetime,
) -> tuple[WebhookSubscription, str]:
    """The new subscription and its signing secret (shown to the caller once)."""
    signing_secret = check_secret(secret) if secret else new_webhook_secret()
    subscription = WebhookSubscription(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        url=await check_url(url, outbound=outbound),
        events=check_events(events),
        enabled=True,
        version=1,
        created_at=now,
        updated_at=now,
    )
    store_secrets(subscription, current=signing_secret, previous=None, keyring=keyring)
    session.add(subscription)
    await session.flush()
    return subscription, signing_secret


async def get_subscription(
    session: AsyncSession, *, workspace_id: UUID, subscription_id: UUID, lock: bool = False
) -> WebhookSubscription:
    query = select(WebhookSubscription).where(
        WebhookSubscription.id == subscription_id,
        WebhookSubscription.workspace_id == workspace_id,
    )
    if lock:
        query = query.with_for_update()
    subscription = await session.scalar(query)
    if subscription is None:
        raise NotFound(f"No webhook subscription {subscription_id} in this workspace.", field="id")
    return subscription


async def list_subscriptions(
    session: AsyncSession, *, workspace_id: UUID, limit: int, after: tuple[datetime, UUID] | None
) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).where(WebhookSubscription.workspace_id == workspace_id)
    if after is not None:
        query = query.where((WebhookSubscription.created_at, WebhookSubscription.id) > after)
    query = query.order_by(WebhookSubscription.created_at, WebhookSubscription.id).limit(limit)
    return list((await session.scalars(query)).all())


def etag(subscription: WebhookSubscription) -> str:
    return f'"{subscription.version}"'


async def update_subscription(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    subscription_id: UUID,
    if_match: str | None,
    url: str | None,
    events: list[str] | None,
    enabled: bool | None,
    outbound: OutboundPolicy,
    now: datetime,
) -> WebhookSubscription:
    subscription = await get_subscription(
        session, workspace_id=workspace_id, subscription_id=subscription_id, lock=True
    )
    if if_match is not None and if_match.strip() not in (etag(subscription), "*"):
        raise PreconditionFailed(
            "The subscription changed since you read it; fetch it again.", field="If-Match"
        )
    if url is not None:
        subscription.url = await check_url(url, outbound=outbound)
    if events is not None:
        subscription.events = check_events(events)
    if enabled is True and not subscription.enabled:
        subscription.enabled = True
        subscription.disabled_reason = None
        subscription.disabled_at = None
        subscription.failing_since = None
    elif enabled is False and subscription.enabled:
        subscription.enabled = False
        subscription.disabled_reason = "Disabled by request."
        subscription.disabled_at = now
    subscription.version += 1
    subscription.updated_at = now
    await session.flush()
    if subscription.enabled:
        await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return subscription


async def delete_subscription(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    subscription_id: UUID,
    if_match: str | None = None,
) -> None:
    subscription = await get_subscription(
        session, workspace_id=workspace_id, subscription_id=subscription_id, lock=True
    )
    if if_match is not None and if_match.strip() not in (etag(subscription), "*"):
        raise PreconditionFailed(
            "The subscription changed since you read it; fetch it again.", field="If-Match"
        )
    await session.delete(subscription)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    subscription_id: UUID,
    secret: str | None,
    overlap: timedelta,
    keyring: Keyring,
    now: datetime,
) -> tuple[WebhookSubscription, str]:
    """A new secret signs from now on; the old one also signs until `now + overlap`.
    Returns the subscription and the new secret (shown to the caller once)."""
    subscription = await get_subscription(
        session, workspace_id=workspace_id, subscription_id=subscription_id, lock=True
    )
    new = check_secret(secret) if secret else new_webhook_secret()
    current, _ = stored_secrets(subscription, keyring=keyring)
    if new == current:
        raise ValidationFailed("The new secret must differ from the current one.", field="secret")
    previous = current if overlap > timedelta(0) else None
    store_secrets(subscription, current=new, previous=previous, keyring=keyring)
    subscription.previous_secret_expires_at = now + overlap if previous else None
    subscription.version += 1
    subscription.updated_at = now
    await session.flush()
    return subscription, new


def payload(
    *, message_id: str, event_type: str, timestamp: datetime, workspace_id: UUID, data: dict
) -> str:
    return json.dumps(
        {
            "id": message_id,
            "type": event_type,
            "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
            "workspace_id": str(workspace_id),
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def fan_out(session: AsyncSession, envelope: Envelope) -> int:
    """One pending delivery per enabled subscription of the event's workspace that wants it.

    Runs inside the consumer's transaction, with its idempotency record.
    """
    if envelope.workspace_id is None or envelope.type not in PUBLIC_EVENTS:
        return 0
    subscriptions = (
        await session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.workspace_id == envelope.workspace_id,
                WebhookSubscription.enabled.is_(True),
                or_(
                    WebhookSubscription.events.contains([envelope.type]),
                    WebhookSubscription.events.contains([ALL_EVENTS]),
                ),
            )
        )
    ).all()
    if not subscriptions:
        return 0
    body = payload(
        message_id=str(envelope.id),
        event_type=envelope.type,
        timestamp=envelope.occurred_at,
        workspace_id=envelope.workspace_id,
        data=envelope.data,
    )
    await _queue(
        session,
        [
            WebhookDelivery(
                subscription_id=subscription.id,
                workspace_id=envelope.workspace_id,
                message_id=str(envelope.id),
                event_type=envelope.type,
                body=body,
                next_attempt_at=envelope.occurred_at,
            )
            for subscription in subscriptions
        ],
    )
    return len(subscriptions)


async def _queue(session: AsyncSession, deliveries: list[WebhookDelivery]) -> None:
    """Adds new deliveries, pending from their `next_attempt_at`, and wakes the senders."""
    for delivery in deliveries:
        delivery.id = uuid.uuid4()
        delivery.status = "pending"
        delivery.attempts = 0
    session.add_all(deliveries)
    await session.flush()
    await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


def _refuse_if_disabled(subscription: WebhookSubscription) -> None:
    if not subscription.enabled:
        raise Conflict(
            "The subscription is disabled"
            + (f" ({subscription.disabled_reason})" if subscription.disabled_reason else "")
            + '; PATCH it with {"enabled": true} first.',
        )


async def send_test(
    session: AsyncSession, *, workspace_id: UUID, subscription_id: UUID, now: datetime
) -> WebhookDelivery:
    subscription = await get_subscription(
        session, workspace_id=workspace_id, subscription_id=subscription_id
    )
    _refuse_if_disabled(subscription)
    message_id = str(uuid.uuid4())
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        workspace_id=workspace_id,
        message_id=message_id,
        event_type=TEST_EVENT,
        body=payload(
            message_id=message_id,
            event_type=TEST_EVENT,
            timestamp=now,
            workspace_id=workspace_id,
            data={
                "subscription_id": str(subscription.id),
                "message": "A test ping from Herald: your endpoint is reachable.",
            },
        ),
        next_attempt_at=now,
    )
    await _queue(session, [delivery])
    return delivery


async def replay(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    subscription_id: UUID,
    delivery_id: UUID,
    now: datetime,
) -> WebhookDelivery:
    """A new delivery of the same message (same `webhook-id`, same body), due now."""
    subscription = await get_subscription(
        session, workspace_id=workspace_id, subscription_id=subscription_id
    )
    _refuse_if_disabled(subscription)
    original = await get_delivery(
        session,
        workspace_id=workspace_id,
        subscription_id=subscription_id,
        delivery_id=delivery_id,
    )
    again = WebhookDelivery(
        subscription_id=subscription.id,
        workspace_id=workspace_id,
        message_id=original.message_id,
        event_type=original.event_type,
        body=original.body,
        next_attempt_at=now,
        replay_of=original.id,
    )
    await _queue(session, [again])
    return again


async def get_delivery(
    session: AsyncSession, *, workspace_id: UUID, subscription_id: UUID, delivery_id: UUID
) -> WebhookDelivery:
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.workspace_id == workspace_id,
        )
    )
    if delivery is None:
        raise NotFound(f"No delivery {delivery_id} for this subscription.", field="delivery_id")
    return delivery


async def list_deliveries(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    subscription_id: UUID,
    status: str | None,
    limit: int,
    before: tuple[datetime, UUID] | None,
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """Newest first, with every attempt of each delivery."""
    await get_subscription(session, workspace_id=workspace_id, subscription_id=subscription_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription_id,
        WebhookDelivery.workspace_id == workspace_id,
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where((WebhookDelivery.created_at, WebhookDelivery.id) < before)
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    deliveries = list((await session.scalars(query.limit(limit))).all())
    attempts: dict[UUID, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.attempt)
        )
        for attempt in rows:
            attempts[attempt.delivery_id].append(attempt)
    return [(d, attempts[d.id]) for d in deliveries]
