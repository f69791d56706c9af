"""Staff-granted licences: a plan for N months that overrides any subscription."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

import grpc

from services.billing.domain import grants, plans
from services.billing.store import licenses as store
from services.billing.store import subscriptions as subscription_store
from services.billing.store.licenses import License
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, FieldProblem, validation_failed

MAX_MONTHS = 36


def add_months(value: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day when it has fewer)."""
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


async def grant(
    uow: UnitOfWork, *, tenant_id: int, plan: str, months: int, staff_id: int, grace: timedelta
) -> License:
    problems = []
    if tenant_id <= 0:
        problems.append(FieldProblem("tenant_id", "A workspace is required.", "required"))
    if plan not in plans.PAID_PLANS:
        problems.append(FieldProblem("plan_key", "Choose professional or business.", "in"))
    if not 1 <= months <= MAX_MONTHS:
        problems.append(
            FieldProblem("expires_in_months", f"Between 1 and {MAX_MONTHS} months.", "between")
        )
    if problems:
        raise validation_failed(problems)
    await subscription_store.lock_tenant(uow, tenant_id)
    await store.revoke_live(uow, tenant_id, staff_id)  # the new grant replaces it
    license = await store.add(
        uow,
        tenant_id=tenant_id,
        plan=plan,
        expires_at=add_months(uow.clock.now(), months),
        staff_id=staff_id,
    )
    await grants.refresh(uow, tenant_id, grace)
    return license


async def revoke(uow: UnitOfWork, *, tenant_id: int, staff_id: int, grace: timedelta) -> License:
    await subscription_store.lock_tenant(uow, tenant_id)
    license = await store.revoke_live(uow, tenant_id, staff_id)
    if license is None:
        raise DomainError(
            "NO_ACTIVE_LICENSE",
            "This workspace has no active licence.",
            404,
            grpc.StatusCode.NOT_FOUND,
        )
    await grants.refresh(uow, tenant_id, grace)
    return license
