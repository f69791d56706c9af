"""SQL for Plixa staff accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select

from services.identity.domain.models import Staff
from services.identity.store.tables import staff
from services.kit.db import UnitOfWork
from services.kit.rows import from_row


async def find_by_email(uow: UnitOfWork, email: str) -> Staff | None:
    query = select(staff).where(func.lower(staff.c.email) == email.lower())
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(Staff, row) if row else None


async def get(uow: UnitOfWork, staff_id: int) -> Staff | None:
    row = (await uow.conn.execute(select(staff).where(staff.c.id == staff_id))).one_or_none()
    return from_row(Staff, row) if row else None


async def add(uow: UnitOfWork, *, name: str, email: str, password_hash: str, at: datetime) -> Staff:
    row = (
        await uow.conn.execute(
            insert(staff)
            .values(name=name, email=email, password_hash=password_hash, created_at=at)
            .returning(staff)
        )
    ).one()
    return from_row(Staff, row)
