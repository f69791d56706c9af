"""Consumers of identity's events."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.aio.msg import Msg

from plixa.identity.v1 import events_pb2
from services.backoffice.store import tenant_directory
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork


async def record_registered_tenant(uow: UnitOfWork, msg: Msg) -> None:
    event = events_pb2.UserRegistered.FromString(msg.data)
    await tenant_directory.add_tenant(
        uow.conn,
        tenant_id=event.tenant_id,
        name=event.tenant_name,
        slug=event.tenant_slug,
        country_code=event.country_code,
        owner_user_id=event.user_id,
        owner_email=event.email,
        registered_at=msg.metadata.timestamp or datetime.now(UTC),
    )


async def forget_erased_tenant(uow: UnitOfWork, msg: Msg) -> None:
    event = events_pb2.TenantErased.FromString(msg.data)
    await tenant_directory.remove_tenant(uow.conn, event.tenant_id)


SUBSCRIPTIONS = [
    Subscription(
        durable="backoffice-tenant-directory",
        subject="identity.user.registered",
        handler=record_registered_tenant,
    ),
    Subscription(
        durable="backoffice-tenant-erasure",
        subject="identity.tenant.erased",
        handler=forget_erased_tenant,
    ),
]
