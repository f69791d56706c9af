"""SQL for recovery codes (hashes only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update

from services.identity.store.tables import recovery_codes
from services.kit.db import UnitOfWork


async def replace_all(uow: UnitOfWork, user_id: int, hashes: list[bytes], at: datetime) -> None:
    await uow.conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    await uow.conn.execute(
        insert(recovery_codes),
        [{"user_id": user_id, "code_hash": h, "created_at": at} for h in hashes],
    )


async def use(uow: UnitOfWork, user_id: int, code_hash: bytes, at: datetime) -> bool:
    """Marks an unused code used; False when there is no such unused code."""
    result = await uow.conn.execute(
        update(recovery_codes)
        .where(
            recovery_codes.c.user_id == user_id,
            recovery_codes.c.code_hash == code_hash,
            recovery_codes.c.used_at.is_(None),
        )
        .values(used_at=at)
    )
    return bool(result.rowcount)


async def remaining(uow: UnitOfWork, user_id: int) -> int:
    query = select(func.count()).where(
        recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)
    )
    return int(await uow.conn.scalar(query) or 0)


async def delete_all(uow: UnitOfWork, user_id: int) -> None:
    await uow.conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
