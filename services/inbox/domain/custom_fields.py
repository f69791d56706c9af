"""Custom-field definitions: the workspace's schema of extra contact fields (text values)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.inbox.domain.catalogue_models import CustomFieldDefinition
from services.inbox.domain.catalogue_ordering import reorder as reorder_list
from services.inbox.store import custom_fields as store
from services.inbox.store.catalogue_ordering import NameTaken, next_position
from services.inbox.store.catalogue_tables import custom_field_definitions
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, conflict, not_found
from services.kit.paging import Page, PageQuery
from services.kit.protos import checked_change
from services.kit.rows import UNSET, Unset
from services.kit.validation import Checker

NAME_MAX = 60


@dataclass(frozen=True)
class DefinitionUpdate:
    name: str | Unset | None = UNSET


def _taken() -> DomainError:
    return conflict("CUSTOM_FIELD_EXISTS", "A custom field with this name already exists.", "name")


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[CustomFieldDefinition]:
    return await store.list_page(uow, page)


async def create(uow: UnitOfWork, *, name: str) -> CustomFieldDefinition:
    check = Checker()
    name = check.text("name", name, max_len=NAME_MAX)
    check.done()
    position = await next_position(uow, custom_field_definitions)
    try:
        return await store.add(uow, name=name, position=position, now=uow.clock.now())
    except NameTaken:
        raise _taken() from None


async def update(
    uow: UnitOfWork, definition_id: int, asked: DefinitionUpdate
) -> CustomFieldDefinition:
    check = Checker()
    name = checked_change(
        check, "name", asked.name, lambda f, v: check.text(f, v, max_len=NAME_MAX)
    )
    check.done()
    changes = store.DefinitionChanges()
    if name is not UNSET:
        changes = store.DefinitionChanges(name=name, updated_at=uow.clock.now())
    try:
        definition = await store.update(uow, definition_id, changes)
    except NameTaken:
        raise _taken() from None
    if definition is None:
        raise not_found("Custom field")
    return definition


async def delete(uow: UnitOfWork, definition_id: int) -> None:
    if not await store.delete(uow, definition_id):
        raise not_found("Custom field")


async def reorder(uow: UnitOfWork, ids: Iterable[int]) -> list[CustomFieldDefinition]:
    await reorder_list(uow, custom_field_definitions, ids)
    return await store.all_in_order(uow)
