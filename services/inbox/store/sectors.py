"""SQL for sectors and their assigned agents (conversations lose a deleted sector: the FK sets
it null)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

from services.inbox.domain.catalogue_models import SectorRecord
from services.inbox.store.catalogue_ordering import execute_named
from services.inbox.store.tables import sector_members, sectors
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row

SECTORS_ORDER = Keyset("inbox.sectors", id=sectors.c.id, sort=sectors.c.position)


@dataclass(frozen=True)
class SectorChanges:
    name: str | Unset = UNSET
    description: str | Unset | None = UNSET
    updated_at: datetime | Unset = UNSET


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[SectorRecord]:
    rows = await paginate(uow.conn, uow.scope.select(sectors), SECTORS_ORDER, page)
    return rows.map(lambda row: from_row(SectorRecord, row))


async def get(uow: UnitOfWork, sector_id: int, *, lock: bool = False) -> SectorRecord | None:
    query = uow.scope.select(sectors).where(sectors.c.id == sector_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(SectorRecord, row) if row else None


async def add(
    uow: UnitOfWork, *, name: str, description: str | None, position: int, now: datetime
) -> SectorRecord:
    """NameTaken when the workspace has a sector of that name (any case)."""
    values = uow.scope.row(
        name=name, description=description, position=position, created_at=now, updated_at=now
    )
    row = await execute_named(uow, insert(sectors).values(values).returning(sectors))
    assert row is not None
    return from_row(SectorRecord, row)


async def update(uow: UnitOfWork, sector_id: int, changes: SectorChanges) -> SectorRecord | None:
    statement = uow.scope.update(sectors).where(sectors.c.id == sector_id)
    # Nothing to change still answers the row (ids are GENERATED ALWAYS: SET id = id fails).
    statement = statement.values(**(changed(changes) or {"tenant_id": sectors.c.tenant_id}))
    row = await execute_named(uow, statement.returning(sectors))
    return from_row(SectorRecord, row) if row else None


async def delete(uow: UnitOfWork, sector_id: int) -> bool:
    """Its member rows go with it; conversations keep a null sector (the FKs)."""
    statement = uow.scope.delete(sectors).where(sectors.c.id == sector_id)
    return (await uow.conn.execute(statement.returning(sectors.c.id))).one_or_none() is not None


async def members_of(uow: UnitOfWork, sector_ids: list[int]) -> dict[int, list[int]]:
    if not sector_ids:
        return {}
    query = (
        uow.scope.select(sector_members, sector_members.c.sector_id, sector_members.c.user_id)
        .where(sector_members.c.sector_id.in_(sector_ids))
        .order_by(sector_members.c.sector_id, sector_members.c.user_id)
    )
    found: dict[int, list[int]] = {}
    for row in await uow.conn.execute(query):
        found.setdefault(row.sector_id, []).append(row.user_id)
    return found


async def replace_members(uow: UnitOfWork, sector_id: int, user_ids: list[int]) -> None:
    await uow.conn.execute(
        uow.scope.delete(sector_members).where(sector_members.c.sector_id == sector_id)
    )
    if user_ids:
        rows = [uow.scope.row(sector_id=sector_id, user_id=u) for u in user_ids]
        await uow.conn.execute(insert(sector_members).values(rows))
