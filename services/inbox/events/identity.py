"""Consumers of identity's and billing's events: the security-config replica, removed members,
erased workspaces, and the plan limits."""

from __future__ import annotations

import json
from datetime import UTC

from nats.aio.msg import Msg
from sqlalchemy import text

from plixa.billing.v1 import events_pb2 as billing_events
from plixa.identity.v1 import events_pb2 as identity_events
from services.inbox.domain import conversations
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork


async def replicate_security_config(uow: UnitOfWork, msg: Msg) -> None:
    event = identity_events.SecurityConfigChanged.FromString(msg.data)
    await uow.conn.execute(
        text(
            "INSERT INTO tenant_settings (tenant_id, agent_restricted_to_own_conversations,"
            " updated_at) VALUES (:t, :r, :now) ON CONFLICT (tenant_id) DO UPDATE SET"
            " agent_restricted_to_own_conversations ="
            " EXCLUDED.agent_restricted_to_own_conversations,"
            " updated_at = EXCLUDED.updated_at"
        ),
        {
            "t": event.tenant_id,
            "r": event.agent_restricted_to_own_conversations,
            "now": uow.clock.now(),
        },
    )


async def replicate_limits(uow: UnitOfWork, msg: Msg) -> None:
    event = billing_events.EntitlementsChanged.FromString(msg.data)
    changed_at = event.changed_at.ToDatetime(tzinfo=UTC)
    await uow.conn.execute(
        text(
            "INSERT INTO tenant_settings (tenant_id, agent_restricted_to_own_conversations,"
            " updated_at, limits, limits_changed_at)"
            " VALUES (:t, false, :now, CAST(:l AS jsonb), :c)"
            " ON CONFLICT (tenant_id) DO UPDATE SET limits = EXCLUDED.limits,"
            " limits_changed_at = EXCLUDED.limits_changed_at"
            " WHERE tenant_settings.limits_changed_at IS NULL"
            " OR tenant_settings.limits_changed_at <= EXCLUDED.limits_changed_at"
        ),
        {
            "t": event.tenant_id,
            "now": uow.clock.now(),
            "l": json.dumps(dict(event.limits)),
            "c": changed_at,
        },
    )


async def unassign_removed_member(uow: UnitOfWork, msg: Msg) -> None:
    event = identity_events.MemberRemoved.FromString(msg.data)
    await conversations.unassign_member(uow, event.tenant_id, event.user_id)


async def erase_tenant(uow: UnitOfWork, msg: Msg) -> None:
    event = identity_events.TenantErased.FromString(msg.data)
    await conversations.erase_tenant(uow, event.tenant_id)


SUBSCRIPTIONS = [
    Subscription(
        durable="inbox-security-config",
        subject="identity.security_config.changed",
        handler=replicate_security_config,
    ),
    Subscription(
        durable="inbox-member-removed",
        subject="identity.member.removed",
        handler=unassign_removed_member,
    ),
    Subscription(
        durable="inbox-tenant-erased", subject="identity.tenant.erased", handler=erase_tenant
    ),
    Subscription(
        durable="inbox-entitlements",
        subject="billing.entitlements.changed",
        handler=replicate_limits,
    ),
]
