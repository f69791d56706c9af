"""Consumers of billing's events."""

from __future__ import annotations

from datetime import UTC

from nats.aio.msg import Msg

from plixa.billing.v1 import events_pb2
from services.identity.domain import entitlements
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork


async def replicate_entitlements(uow: UnitOfWork, msg: Msg) -> None:
    event = events_pb2.EntitlementsChanged.FromString(msg.data)
    await entitlements.apply_change(
        uow,
        tenant_id=event.tenant_id,
        plan=event.plan,
        status=event.status,
        features=list(event.features),
        limits=dict(event.limits),
        changed_at=event.changed_at.ToDatetime(tzinfo=UTC),
    )


SUBSCRIPTIONS = [
    Subscription(
        durable="identity-entitlements",
        subject="billing.entitlements.changed",
        handler=replicate_entitlements,
    )
]
