"""What the backoffice asks of identity on a staff member's behalf (internal RPCs only):
suspending or reactivating a workspace, and a short-lived token acting as one of its members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from plixa.identity.v1 import events_pb2
from services.identity.domain import tokens
from services.identity.store import accounts as account_store
from services.identity.store import staff as staff_store
from services.identity.store import tokens as token_store
from services.kit.db import UnitOfWork
from services.kit.errors import invalid, not_found

TENANT_STATUSES = ("active", "suspended")
IMPERSONATION_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class StatusChange:
    tenant_id: int
    status: str
    previous_status: str


@dataclass(frozen=True)
class Impersonation:
    token: str
    token_id: int
    expires_at: datetime


async def set_tenant_status(uow: UnitOfWork, tenant_id: int, status: str) -> StatusChange:
    """The workspace's new status; every cached principal of it goes stale at once (gateways
    drop them on identity.access.changed). Setting the status it already has changes nothing."""
    if status not in TENANT_STATUSES:
        raise invalid("status", "The status must be active or suspended.", "in")
    tenant = await account_store.get_tenant(uow, tenant_id)
    if tenant is None:
        raise not_found("Workspace")
    if tenant.status != status:
        await account_store.set_tenant_status(uow, tenant_id, status)
        uow.emit(
            "identity.access.changed",
            events_pb2.AccessChanged(tenant_id=tenant_id),
            tenant_id=tenant_id,
        )
    return StatusChange(tenant_id, status, tenant.status)


async def issue_impersonation(
    uow: UnitOfWork, *, staff_id: int, tenant_id: int, user_id: int
) -> Impersonation:
    """A token acting as a member, for IMPERSONATION_LIFETIME (no refresh: it simply ends)."""
    if not staff_id or await staff_store.get(uow, staff_id) is None:
        raise invalid("staff_id", "The staff member does not exist.", "exists")
    user = await account_store.get_user(uow, tenant_id, user_id)
    if user is None:
        raise not_found("Member")
    secret = tokens.new_secret()
    now = uow.clock.now()
    expires_at = now + IMPERSONATION_LIFETIME
    token_id = await token_store.add(
        uow,
        kind="impersonation",
        name="impersonation",
        secret_hash=secret.digest,
        prefix=secret.prefix,
        abilities=["*"],
        created_at=now,
        tenant_id=tenant_id,
        user_id=user_id,
        staff_id=staff_id,
        expires_at=expires_at,
    )
    return Impersonation(tokens.render(token_id, secret.plain), token_id, expires_at)
