"""SQL for custom-field definitions (their values go with them: the FK cascades)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

from services.inbox.domain.catalogue_models import CustomFieldDefinition
from services.inbox.store.catalogue_ordering import execute_named
from services.inbox.store.catalogue_tables import custom_field_definitions as definitions
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row, from_rows

DEFINITIONS_ORDER = Keyset(
    "inbox.custom_field_definitions", id=definitions.c.id, sort=definitions.c.position
)


@dataclass(frozen=True)
class DefinitionChanges:
    name: str | Unset = UNSET
    updated_at: datetime | Unset = UNSET


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[CustomFieldDefinition]:
    rows = await paginate(uow.conn, uow.scope.select(definitions), DEFINITIONS_ORDER, page)
    return rows.map(lambda row: from_row(CustomFieldDefinition, row))


async def all_in_order(uow: UnitOfWork) -> list[CustomFieldDefinition]:
    query = uow.scope.select(definitions).order_by(definitions.c.position, definitions.c.id)
    return from_rows(CustomFieldDefinition, await uow.conn.execute(query))


async def add(uow: UnitOfWork, *, name: str, position: int, now: datetime) -> CustomFieldDefinition:
    """NameTaken when the workspace has a field of that name (any case)."""
    values = uow.scope.row(name=name, position=position, created_at=now, updated_at=now)
    row = await execute_named(uow, insert(definitions).values(values).returning(definitions))
    assert row is not None
    return from_row(CustomFieldDefinition, row)


async def update(
    uow: UnitOfWork, definition_id: int, changes: DefinitionChanges
) -> CustomFieldDefinition | None:
    statement = uow.scope.update(definitions).where(definitions.c.id == definition_id)
    # Nothing to change still answers the row (ids are GENERATED ALWAYS: SET id = id fails).
    statement = statement.values(**(changed(changes) or {"tenant_id": definitions.c.tenant_id}))
    row = await execute_named(uow, statement.returning(definitions))
    return from_row(CustomFieldDefinition, row) if row else None


async def delete(uow: UnitOfWork, definition_id: int) -> bool:
    """Every contact's value of it goes too (the FK cascades)."""
    statement = (
        uow.scope.delete(definitions)
        .where(definitions.c.id == definition_id)
        .returning(definitions.c.id)
    )
    return (await uow.conn.execute(statement)).one_or_none() is not None
