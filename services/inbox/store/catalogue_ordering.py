"""SQL shared by the catalogue's ordered lists (labels, custom-field definitions, saved replies,
sectors): each has `tenant_id`, `id` and a NOT NULL `position`, shown lowest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, Row, Table, bindparam, func
from sqlalchemy.exc import IntegrityError

from services.kit.db import UnitOfWork


async def next_position(uow: UnitOfWork, table: Table) -> int:
    """The position after the workspace's last item (two racing creates may share one; the id
    orders them)."""
    query = uow.scope.select(table, func.coalesce(func.max(table.c.position), -1) + 1)
    return int(await uow.conn.scalar(query) or 0)


async def locked_order(uow: UnitOfWork, table: Table) -> list[tuple[int, int]]:
    """Every (id, position) of the workspace's list in display order, locked until the commit so
    two reorders run one after the other."""
    query = (
        uow.scope.select(table, table.c.id, table.c.position)
        .order_by(table.c.position, table.c.id)
        .with_for_update()
    )
    return [(row.id, row.position) for row in await uow.conn.execute(query)]


async def write_positions(uow: UnitOfWork, table: Table, changes: list[tuple[int, int]]) -> None:
    """Sets position per (id, position); only the workspace's rows can match."""
    if not changes:
        return
    statement = (
        uow.scope.update(table)
        .where(table.c.id == bindparam("item_id"))
        .values(position=bindparam("new_position"))
    )
    await uow.conn.execute(statement, [{"item_id": i, "new_position": p} for i, p in changes])


class NameTaken(Exception):
    """Another item of the workspace's list has this name (any case)."""


async def execute_named(uow: UnitOfWork, statement: Executable) -> Row[Any] | None:
    """Runs an INSERT or UPDATE … RETURNING of a list whose names are unique per workspace
    (a unique index on lower(name)); a clash raises NameTaken, the transaction stays usable."""
    try:
        async with uow.conn.begin_nested():
            return (await uow.conn.execute(statement)).one_or_none()
    except IntegrityError as exc:
        raise NameTaken from exc
