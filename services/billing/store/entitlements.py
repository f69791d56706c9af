"""SQL for the entitlements billing announced per workspace."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.billing.domain.entitlements import Entitlements
from services.billing.store.tables import entitlements
from services.kit.db import UnitOfWork
from services.kit.rows import from_row


async def get(uow: UnitOfWork, tenant_id: int) -> Entitlements | None:
    query = select(entitlements).where(entitlements.c.tenant_id == tenant_id)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(Entitlements, row) if row else None


async def put(uow: UnitOfWork, tenant_id: int, value: Entitlements, changed_at: datetime) -> None:
    values = {
        "tenant_id": tenant_id,
        "plan": value.plan,
        "status": value.status,
        "features": list(value.features),
        "limits": value.limits,
        "changed_at": changed_at,
        "review_at": value.review_at,
    }
    statement = insert(entitlements).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id"],
        set_={k: statement.excluded[k] for k in values if k != "tenant_id"},
    )
    await uow.conn.execute(statement)


async def set_review(uow: UnitOfWork, tenant_id: int, review_at: datetime | None) -> None:
    await uow.conn.execute(
        entitlements.update()
        .where(entitlements.c.tenant_id == tenant_id)
        .values(review_at=review_at)
    )


async def due_for_review(uow: UnitOfWork, now: datetime, limit: int = 100) -> list[int]:
    """Workspaces whose entitlements may have changed with time (the job is exclusive across
    replicas; each workspace is then recomputed under its own lock)."""
    query = (
        select(entitlements.c.tenant_id)
        .where(entitlements.c.review_at <= now)
        .order_by(entitlements.c.review_at)
        .limit(limit)
    )
    return list((await uow.conn.execute(query)).scalars())
