"""SQL that erases a workspace's catalogue rows (the tables inbox core's erasure does not know)."""

from __future__ import annotations

from services.inbox.store.catalogue_tables import (
    custom_field_definitions,
    custom_field_values,
    saved_replies,
)
from services.kit.db import UnitOfWork

# Values first: they would go with their definitions anyway, but not with a half-erased contact.
CATALOGUE_TABLES = (custom_field_values, custom_field_definitions, saved_replies)


async def erase_tenant(uow: UnitOfWork, tenant_id: int) -> None:
    scope = uow.scope_of(tenant_id)
    for table in CATALOGUE_TABLES:
        await uow.conn.execute(scope.delete(table))
