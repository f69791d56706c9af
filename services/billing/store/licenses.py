"""SQL for staff-granted licences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from services.billing.store.tables import licenses
from services.kit.db import UnitOfWork
from services.kit.rows import from_row


@dataclass(frozen=True)
class License:
    id: int
    tenant_id: int
    plan: str
    starts_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    granted_by_staff_id: int

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if now < self.expires_at else "expired"


async def latest(uow: UnitOfWork, tenant_id: int) -> License | None:
    """The workspace's newest licence (only the newest can be live: granting revokes others)."""
    query = (
        select(licenses)
        .where(licenses.c.tenant_id == tenant_id)
        .order_by(licenses.c.id.desc())
        .limit(1)
    )
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(License, row) if row else None


async def add(
    uow: UnitOfWork, *, tenant_id: int, plan: str, expires_at: datetime, staff_id: int
) -> License:
    now = uow.clock.now()
    row = (
        await uow.conn.execute(
            licenses.insert()
            .values(
                tenant_id=tenant_id,
                plan=plan,
                starts_at=now,
                expires_at=expires_at,
                granted_by_staff_id=staff_id,
                created_at=now,
            )
            .returning(licenses)
        )
    ).one()
    return from_row(License, row)


async def revoke_live(uow: UnitOfWork, tenant_id: int, staff_id: int) -> License | None:
    """Revokes the workspace's live licence; None when there is none."""
    now = uow.clock.now()
    row = (
        await uow.conn.execute(
            licenses.update()
            .where(
                licenses.c.tenant_id == tenant_id,
                licenses.c.revoked_at.is_(None),
                licenses.c.expires_at > now,
            )
            .values(revoked_at=now, revoked_by_staff_id=staff_id)
            .returning(licenses)
        )
    ).first()
    return from_row(License, row) if row else None
