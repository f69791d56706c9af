"""What a workspace may use. Billing decides (its events feed a replica here); until a workspace
has any, it runs on the default plan of PLANS.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from plixa.identity.v1 import events_pb2
from services.identity.domain import plans
from services.identity.store import accounts as account_store
from services.identity.store import entitlements as store
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError


@dataclass(frozen=True)
class Entitlements:
    plan: str = plans.DEFAULT_PLAN
    status: str = plans.DEFAULT_STATUS
    features: tuple[str, ...] = plans.DEFAULT_FEATURES
    limits: dict[str, int] = field(default_factory=lambda: dict(plans.DEFAULT_LIMITS))

    def limit(self, name: str) -> int:
        return int(self.limits.get(name, plans.DEFAULT_LIMITS.get(name, 0)))


async def for_tenant(uow: UnitOfWork, tenant_id: int) -> Entitlements:
    row = await store.get(uow, tenant_id)
    if row is None:
        return Entitlements()
    return Entitlements(row.plan, row.status, tuple(row.features), dict(row.limits))


async def apply_change(
    uow: UnitOfWork,
    *,
    tenant_id: int,
    plan: str,
    status: str,
    features: list[str],
    limits: dict[str, int],
    changed_at: datetime,
) -> None:
    """Keeps the latest change; cached principals of the tenant are dropped so it applies now."""
    if await account_store.get_tenant(uow, tenant_id) is None:
        return  # a workspace erased meanwhile: nothing to entitle
    stored = await store.put_if_newer(
        uow,
        tenant_id=tenant_id,
        plan=plan,
        status=status,
        features=features,
        limits=limits,
        changed_at=changed_at,
    )
    if stored:
        uow.emit(
            "identity.access.changed",
            events_pb2.AccessChanged(tenant_id=tenant_id),
            tenant_id=tenant_id,
        )


def seat_limit_reached(limit: int) -> DomainError:
    return DomainError(
        "SEAT_LIMIT_REACHED",
        f"Your plan allows {limit} members. Upgrade to add more.",
        409,
    )
