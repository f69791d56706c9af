"""SQL for the entitlements replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.identity.domain.models import Entitlements
from services.identity.store.tables import entitlements
from services.kit.db import UnitOfWork
from services.kit.rows import from_row


async def get(uow: UnitOfWork, tenant_id: int) -> Entitlements | None:
    """The replica of billing's entitlements; None until billing announced any."""
    query = select(entitlements).where(entitlements.c.tenant_id == tenant_id)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(Entitlements, row) if row else None


async def put_if_newer(
    uow: UnitOfWork,
    *,
    tenant_id: int,
    plan: str,
    status: str,
    features: list[str],
    limits: dict[str, int],
    changed_at: datetime,
) -> bool:
    """Stores the change unless a later one is already stored; True when stored."""
    values = dict(
        tenant_id=tenant_id,
        plan=plan,
        status=status,
        features=features,
        limits=limits,
        changed_at=changed_at,
    )
    statement = insert(entitlements).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id"],
        set_={k: statement.excluded[k] for k in values if k != "tenant_id"},
        where=entitlements.c.changed_at <= statement.excluded.changed_at,
    )
    result = await uow.conn.execute(statement.returning(entitlements.c.tenant_id))
    return result.first() is not None
