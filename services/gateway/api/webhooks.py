"""Client webhooks: subscriptions, their delivery log, replay, test ping, secret rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response

from services.gateway.api.deps import NoStore, SettingsDep, allowed
from services.gateway.audit import record_by
from services.gateway.edge.keys import KeyIdentity
from services.gateway.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from services.gateway.schemas import (
    SecretRotation,
    WebhookAttemptOut,
    WebhookChange,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookOut,
    WebhookPage,
)
from services.gateway.webhooks.events import RETRY_SCHEDULE_TEXT, SIGNATURE_TEXT
from services.gateway.webhooks.subscriptions import (
    create_subscription,
    delete_subscription,
    etag,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    replay,
    rotate_secret,
    send_test,
    update_subscription,
)
from shared.pagination import created_and_id, decode_cursor, page_of
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

ManagerDep = Annotated[KeyIdentity, Depends(allowed("webhooks.manage"))]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _out(subscription: WebhookSubscription) -> WebhookOut:
    return WebhookOut(
        id=subscription.id,
        url=subscription.url,
        events=subscription.events,
        enabled=subscription.enabled,
        disabled_reason=subscription.disabled_reason,
        disabled_at=subscription.disabled_at,
        failing_since=subscription.failing_since,
        secret_rotation_ends_at=(
            subscription.previous_secret_expires_at
            if subscription.sealed_previous_secret or subscription.previous_secret
            else None
        ),
        created_at=subscription.created_at,
        updated_at=subscription.updated_at,
    )


def _delivery(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.id,
        message_id=delivery.message_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        replay_of=delivery.replay_of,
        created_at=delivery.created_at,
        payload=json.loads(delivery.body),
        attempt_log=[WebhookAttemptOut.model_validate(a, from_attributes=True) for a in attempts],
    )


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    dependencies=[NoStore],
    summary="Subscribe an endpoint to events",
    description=SIGNATURE_TEXT + " " + RETRY_SCHEDULE_TEXT + " The payloads are described "
    "in this document's `webhooks` section.",
)
async def post_webhook(
    body: WebhookCreate,
    caller: ManagerDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    response: Response,
) -> WebhookCreated:
    subscription, signing_secret = await create_subscription(
        session,
        workspace_id=caller.workspace_id,
        url=body.url,
        events=body.events,
        secret=body.secret,
        outbound=settings.webhook_outbound(),
        keyring=settings.keyring(),
        now=datetime.now(UTC),
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="webhook.created",
        resource_type="webhook",
        resource_id=subscription.id,
        details={"url": subscription.url, "events": list(subscription.events)},
    )
    response.headers["ETag"] = etag(subscription)
    return WebhookCreated(**_out(subscription).model_dump(), secret=signing_secret)


@router.get("", response_model=WebhookPage, summary="List webhook subscriptions")
async def get_webhooks(
    caller: ManagerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> WebhookPage:
    rows = await list_subscriptions(
        session, workspace_id=caller.workspace_id, limit=limit + 1, after=decode_cursor(cursor)
    )
    page, next_cursor = page_of(rows, limit)
    return WebhookPage(items=[_out(s) for s in page], next_cursor=next_cursor)


@router.get("/{webhook_id}", response_model=WebhookOut, summary="A webhook subscription")
async def get_webhook(
    webhook_id: UUID, caller: ManagerDep, session: SessionDep, response: Response
) -> WebhookOut:
    subscription = await get_subscription(
        session, workspace_id=caller.workspace_id, subscription_id=webhook_id
    )
    response.headers["ETag"] = etag(subscription)
    return _out(subscription)


@router.patch(
    "/{webhook_id}",
    response_model=WebhookOut,
    summary="Change the URL or events, or enable / disable",
    description="`If-Match` with the ETag refuses the change (412) when the subscription "
    'changed meanwhile. `{"enabled": true}` re-enables a subscription disabled after '
    "persistent failures; deliveries still pending resume.",
)
async def patch_webhook(
    webhook_id: UUID,
    body: WebhookChange,
    caller: ManagerDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookOut:
    subscription = await update_subscription(
        session,
        workspace_id=caller.workspace_id,
        subscription_id=webhook_id,
        if_match=if_match,
        url=body.url,
        events=body.events,
        enabled=body.enabled,
        outbound=settings.webhook_outbound(),
        now=datetime.now(UTC),
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="webhook.updated",
        resource_type="webhook",
        resource_id=subscription.id,
        details=body.model_dump(mode="json", exclude_unset=True),
    )
    response.headers["ETag"] = etag(subscription)
    return _out(subscription)


@router.delete(
    "/{webhook_id}",
    status_code=204,
    summary="Delete a subscription and its log",
    description="`If-Match` with the ETag refuses the deletion (412) when the subscription "
    "changed meanwhile.",
)
async def delete_webhook(
    webhook_id: UUID,
    caller: ManagerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    await delete_subscription(
        session,
        workspace_id=caller.workspace_id,
        subscription_id=webhook_id,
        if_match=if_match,
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="webhook.deleted",
        resource_type="webhook",
        resource_id=webhook_id,
    )
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookCreated,
    dependencies=[NoStore],
    summary="Replace the signing secret, with an overlap window",
    description="The new secret signs from now on. During the overlap (default 24 h) every "
    "delivery carries two signatures in `webhook-signature`, one per secret, separated by a "
    "space, so receivers can switch at their own pace.",
)
async def post_rotate_secret(
    webhook_id: UUID,
    caller: ManagerDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    body: SecretRotation | None = None,
) -> WebhookCreated:
    body = body or SecretRotation()
    overlap = (
        timedelta(seconds=body.overlap_seconds)
        if body.overlap_seconds is not None
        else timedelta(hours=settings.webhook_secret_overlap_hours)
    )
    subscription, signing_secret = await rotate_secret(
        session,
        workspace_id=caller.workspace_id,
        subscription_id=webhook_id,
        secret=body.secret,
        overlap=overlap,
        keyring=settings.keyring(),
        now=datetime.now(UTC),
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="webhook.secret_rotated",
        resource_type="webhook",
        resource_id=subscription.id,
        details={"overlap_seconds": int(overlap.total_seconds())},
    )
    return WebhookCreated(**_out(subscription).model_dump(), secret=signing_secret)


@router.post(
    "/{webhook_id}/test",
    response_model=WebhookDeliveryOut,
    status_code=202,
    summary="Send a `webhook.test` ping",
    description="Queues a signed `webhook.test` delivery now, whatever the subscribed events; "
    "its outcome appears in the delivery log.",
)
async def post_test(
    webhook_id: UUID, caller: ManagerDep, session: SessionDep
) -> WebhookDeliveryOut:
    delivery = await send_test(
        session,
        workspace_id=caller.workspace_id,
        subscription_id=webhook_id,
        now=datetime.now(UTC),
    )
    await session.refresh(delivery)
    return _delivery(delivery, [])


@router.get(
    "/{webhook_id}/deliveries",
    response_model=WebhookDeliveryPage,
    summary="The delivery log, newest first, with every attempt",
)
async def get_deliveries(
    webhook_id: UUID,
    caller: ManagerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    status: Literal["pending", "succeeded", "failed"] | None = None,
) -> WebhookDeliveryPage:
    rows = await list_deliveries(
        session,
        workspace_id=caller.workspace_id,
        subscription_id=webhook_id,
        status=status,
        limit=limit + 1,
        before=decode_cursor(cursor),
    )
    page, next_cursor = page_of(rows, limit, key=lambda row: created_and_id(row[0]))
    return WebhookDeliveryPage(
        items=[_delivery(d, attempts) for d, attempts in page], next_cursor=next_cursor
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/replay",
    response_model=WebhookDeliveryOut,
    status_code=202,
    summary="Send a delivery again",
    description="Queues a new delivery of the same message (same `webhook-id` and body, "
    "freshly signed), whatever became of the original.",
)
async def post_replay(
    webhook_id: UUID, delivery_id: UUID, caller: ManagerDep, session: SessionDep
) -> WebhookDeliveryOut:
    delivery = await replay(
        session,
        workspace_id=caller.workspace_id,
        subscription_id=webhook_id,
        delivery_id=delivery_id,
        now=datetime.now(UTC),
    )
    await session.refresh(delivery)
    return _delivery(delivery, [])
