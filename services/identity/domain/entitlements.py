"""What a workspace may use. Billing decides (its events feed a replica here); until a workspace
has any, it runs on the default plan of PLANS.md."""

from __future__ import annotations

from datetime import datetime

from plixa.identity.v1 import events_pb2
from services.identity.domain.models import Entitlements
from services.identity.store import accounts as account_store
from services.identity.store import entitlements as store
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError

__all__ = ["Entitlements", "apply_change", "for_tenant", "seat_limit_reached"]


async def for_tenant(uow: UnitOfWork, tenant_id: int) -> Entitlements:
    return await store.get(uow, tenant_id) or Entitlements()


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
