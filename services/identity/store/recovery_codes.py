"""SQL for recovery codes (keyed digests only), owned by a member or a staff account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update

from services.identity.store.second_factor import Holder
from services.identity.store.tables import recovery_codes
from services.kit.db import UnitOfWork


def _owned_by(holder: Holder) -> ColumnElement[bool]:
    column = recovery_codes.c.user_id if holder.kind == "user" else recovery_codes.c.staff_id
    return column == holder.id


async def replace_all(uow: UnitOfWork, holder: Holder, digests: list[bytes], at: datetime) -> None:
    await uow.conn.execute(delete(recovery_codes).where(_owned_by(holder)))
    owner = "user_id" if holder.kind == "user" else "staff_id"
    await uow.conn.execute(
        insert(recovery_codes),
        [
            {owner: holder.id, "code_hash": d, "legacy_sha256": False, "created_at": at}
            for d in digests
        ],
    )


async def use(
    uow: UnitOfWork, holder: Holder, digest: bytes, legacy_digest: bytes, at: datetime
) -> bool:
    """Spends an unused code in one conditional UPDATE: of two parallel uses exactly one gets
    the row (the second re-checks `used_at IS NULL` after the first commits). A code issued
    before keyed digests matches its bare SHA-256 digest instead."""
    statement = (
        update(recovery_codes)
        .where(
            _owned_by(holder),
            recovery_codes.c.used_at.is_(None),
            or_(
                and_(recovery_codes.c.code_hash == digest, ~recovery_codes.c.legacy_sha256),
                and_(recovery_codes.c.code_hash == legacy_digest, recovery_codes.c.legacy_sha256),
            ),
        )
        .values(used_at=at)
        .returning(recovery_codes.c.id)
    )
    return (await uow.conn.execute(statement)).first() is not None


async def remaining(uow: UnitOfWork, holder: Holder) -> int:
    query = select(func.count()).where(_owned_by(holder), recovery_codes.c.used_at.is_(None))
    return int(await uow.conn.scalar(query) or 0)


async def delete_all(uow: UnitOfWork, holder: Holder) -> None:
    await uow.conn.execute(delete(recovery_codes).where(_owned_by(holder)))
