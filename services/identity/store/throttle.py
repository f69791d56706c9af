"""SQL for the sign-in throttle: failed attempts per subject within a window."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select

from services.identity.store.tables import login_failures
from services.kit.db import UnitOfWork


async def failures_since(
    uow: UnitOfWork, subject: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many failures since `since`, and the oldest of them."""
    row = (
        await uow.conn.execute(
            select(func.count(), func.min(login_failures.c.failed_at)).where(
                login_failures.c.subject == subject, login_failures.c.failed_at >= since
            )
        )
    ).one()
    return int(row[0]), row[1]


async def record_failure(uow: UnitOfWork, subject: str, at: datetime) -> None:
    await uow.conn.execute(insert(login_failures).values(subject=subject, failed_at=at))


async def clear(uow: UnitOfWork, subject: str, before: datetime | None = None) -> None:
    query = delete(login_failures).where(login_failures.c.subject == subject)
    if before is not None:
        query = query.where(login_failures.c.failed_at < before)
    await uow.conn.execute(query)
