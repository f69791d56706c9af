"""The staff's workspace actions. The status lives in identity (which enforces it on every
member route); the directory mirrors it for the staff's lists, and the audit log records it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.backoffice.clients.billing import BillingClient
from services.backoffice.clients.identity import IdentityClient
from services.backoffice.domain import audit
from services.backoffice.store import tenant_directory as directory
from services.backoffice.store.tenant_directory import DirectoryTenant, TenantFilter
from services.kit.db import Database, UnitOfWork
from services.kit.errors import not_found
from services.kit.paging import Page, PageQuery
from services.kit.validation import Checker


@dataclass(frozen=True)
class License:
    tenant_id: int
    plan_key: str
    status: str
    starts_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    granted_by_staff_id: int


def _license(reply: Any) -> License:
    return License(
        tenant_id=int(reply.tenant_id),
        plan_key=str(reply.plan_key),
        status=str(reply.status),
        starts_at=reply.starts_at.ToDatetime(tzinfo=UTC),
        expires_at=reply.expires_at.ToDatetime(tzinfo=UTC),
        revoked_at=reply.revoked_at.ToDatetime(tzinfo=UTC)
        if reply.HasField("revoked_at")
        else None,
        granted_by_staff_id=int(reply.granted_by_staff_id),
    )


def _license_summary(license_: License) -> dict[str, Any]:
    return {
        "plan_key": license_.plan_key,
        "status": license_.status,
        "expires_at": license_.expires_at.isoformat(),
    }


@dataclass(frozen=True)
class Impersonation:
    token: str
    expires_at: datetime
    tenant_id: int
    user_id: int


async def list_page(uow: UnitOfWork, where: TenantFilter, page: PageQuery) -> Page[DirectoryTenant]:
    return await directory.list_page(uow.conn, where, page)


async def get(uow: UnitOfWork, tenant_id: int) -> DirectoryTenant:
    tenant = await directory.get(uow.conn, tenant_id)
    if tenant is None:
        raise not_found("Workspace")
    return tenant


async def set_status(
    db: Database, identity: IdentityClient, tenant_id: int, status: str
) -> DirectoryTenant:
    """Identity first (it is what members meet); then the directory and the audit entry in one
    transaction. A retry after a failure in between is harmless: identity's change is
    idempotent, and the entry records the status identity reports as previous."""
    async with db.reader() as uow:
        await get(uow, tenant_id)
        staff_id = audit.acting_staff(uow.principal)
    change = await identity.set_tenant_status(tenant_id, status, staff_id)
    async with db.unit_of_work() as uow:
        await directory.set_status(uow.conn, tenant_id, status)
        await audit.record(
            uow,
            "tenant.suspended" if status == "suspended" else "tenant.reactivated",
            target_type="tenant",
            target_id=tenant_id,
            tenant_id=tenant_id,
            before={"status": change.previous_status},
            after={"status": change.status},
        )
        return await get(uow, tenant_id)


async def impersonate(
    db: Database, identity: IdentityClient, tenant_id: int, user_id: int
) -> Impersonation:
    async with db.reader() as uow:
        await get(uow, tenant_id)
        staff_id = audit.acting_staff(uow.principal)
    issued = await identity.impersonate(staff_id, tenant_id, user_id)
    expires_at = issued.expires_at.ToDatetime(tzinfo=UTC)
    async with db.unit_of_work() as uow:
        await audit.record(
            uow,
            "tenant.impersonated",
            target_type="user",
            target_id=user_id,
            tenant_id=tenant_id,
            after={"token_id": issued.token_id, "expires_at": expires_at.isoformat()},
        )
    return Impersonation(issued.token, expires_at, tenant_id, user_id)


PLAN_KEYS = ("professional", "business")


async def grant_license(
    db: Database, billing: BillingClient, tenant_id: int, plan_key: str, months: int
) -> License:
    """Billing keeps the licence and announces the new entitlements (which identity applies
    within seconds); the audit entry follows billing's answer."""
    check = Checker()
    if plan_key not in PLAN_KEYS:
        check.fail("plan_key", "The plan must be professional or business.", "in")
    if not 1 <= months <= 36:
        check.fail("expires_in_months", "The licence lasts 1 to 36 months.", "between")
    check.done()
    async with db.reader() as uow:
        tenant = await get(uow, tenant_id)
        staff_id = audit.acting_staff(uow.principal)
    granted = _license(await billing.grant(tenant_id, plan_key, months, staff_id))
    async with db.unit_of_work() as uow:
        await audit.record(
            uow,
            "tenant.license_granted",
            target_type="tenant",
            target_id=tenant_id,
            tenant_id=tenant_id,
            before={"plan": tenant.plan},
            after=_license_summary(granted),
        )
    return granted


async def revoke_license(db: Database, billing: BillingClient, tenant_id: int) -> License:
    async with db.reader() as uow:
        tenant = await get(uow, tenant_id)
        staff_id = audit.acting_staff(uow.principal)
    revoked = _license(await billing.revoke(tenant_id, staff_id))
    async with db.unit_of_work() as uow:
        await audit.record(
            uow,
            "tenant.license_revoked",
            target_type="tenant",
            target_id=tenant_id,
            tenant_id=tenant_id,
            before={"plan": tenant.plan},
            after=_license_summary(revoked),
        )
    return revoked
