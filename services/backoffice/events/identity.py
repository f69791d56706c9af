"""Consumers of identity's events."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.aio.msg import Msg

from plixa.identity.v1 import events_pb2
from services.backoffice.store import audit as audit_store
from services.backoffice.store import support as support_store
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
    """The workspace leaves the directory; its audit entries keep only ids."""
    event = events_pb2.TenantErased.FromString(msg.data)
    await tenant_directory.remove_tenant(uow.conn, event.tenant_id)
    await audit_store.forget_tenant(uow.conn, event.tenant_id)
    await support_store.erase_tenant(uow.conn, event.tenant_id)


async def count_joined_member(uow: UnitOfWork, msg: Msg) -> None:
    event = events_pb2.MemberJoined.FromString(msg.data)
    await tenant_directory.count_member(uow.conn, event.tenant_id, +1)


async def count_removed_member(uow: UnitOfWork, msg: Msg) -> None:
    event = events_pb2.MemberRemoved.FromString(msg.data)
    await tenant_directory.count_member(uow.conn, event.tenant_id, -1)


async def count_erased_member(uow: UnitOfWork, msg: Msg) -> None:
    """A member whose own account deletion ran (the workspace stays)."""
    event = events_pb2.UserErased.FromString(msg.data)
    await tenant_directory.count_member(uow.conn, event.tenant_id, -1)


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
    Subscription(
        durable="backoffice-member-joined",
        subject="identity.member.joined",
        handler=count_joined_member,
    ),
    Subscription(
        durable="backoffice-member-removed",
        subject="identity.member.removed",
        handler=count_removed_member,
    ),
    Subscription(
        durable="backoffice-user-erased",
        subject="identity.user.erased",
        handler=count_erased_member,
    ),
]
