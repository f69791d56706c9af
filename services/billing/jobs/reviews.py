"""Entitlements that change with time alone: a licence expiring, a past-due grace period ending.
Each workspace records when its answer must be looked at again (`review_at`); this job
recomputes the due ones and announces any change like every other."""

from __future__ import annotations

from datetime import timedelta

from services.billing.domain import grants
from services.billing.store import entitlements as entitlement_store
from services.billing.store import subscriptions as subscription_store
from services.kit.db import Database
from services.kit.jobs import PeriodicJob
from services.kit.principal import ANONYMOUS


async def review_due_entitlements(db: Database, grace: timedelta) -> int:
    """Recomputes every workspace whose review time has come; returns how many."""
    async with db.reader(ANONYMOUS) as uow:
        due = await entitlement_store.due_for_review(uow, uow.clock.now())
    for tenant_id in due:
        async with db.unit_of_work(ANONYMOUS) as uow:
            await subscription_store.lock_tenant(uow, tenant_id)
            await grants.refresh(uow, tenant_id, grace)
    return len(due)


def billing_jobs(db: Database, grace: timedelta, every: float) -> list[PeriodicJob]:
    async def run() -> None:
        await review_due_entitlements(db, grace)

    return [PeriodicJob("review_due_entitlements", every=every, run=run)]
