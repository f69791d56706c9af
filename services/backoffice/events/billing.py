"""Consumers of billing's events: the directory shows each workspace's plan."""

from __future__ import annotations

from nats.aio.msg import Msg

from plixa.billing.v1 import events_pb2
from services.backoffice.store import tenant_directory
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork


async def record_plan(uow: UnitOfWork, msg: Msg) -> None:
    event = events_pb2.EntitlementsChanged.FromString(msg.data)
    await tenant_directory.set_plan(uow.conn, event.tenant_id, event.plan)


SUBSCRIPTIONS = [
    Subscription(
        durable="backoffice-tenant-plans",
        subject="billing.entitlements.changed",
        handler=record_plan,
    ),
]
