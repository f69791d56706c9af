"""SQL for contacts, their labels and their custom-field values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert

from services.inbox.domain.catalogue_models import ContactFieldValue, ContactRecord
from services.inbox.store.catalogue_tables import custom_field_definitions, custom_field_values
from services.inbox.store.tables import contact_labels, contacts
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row, from_rows

# Newest first; matches the contacts_tenant_created index.
CONTACTS_ORDER = Keyset(
    "inbox.contacts", id=contacts.c.id, sort=contacts.c.created_at, descending=True
)


@dataclass(frozen=True)
class ContactChanges:
    name: str | Unset | None = UNSET
    notes: str | Unset | None = UNSET
    updated_at: datetime | Unset = UNSET


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_page(
    uow: UnitOfWork,
    page: PageQuery,
    *,
    search: str | None = None,
    phone_digits: str | None = None,
    label_id: int | None = None,
) -> Page[ContactRecord]:
    """A page of the workspace's contacts: `search` matches part of the name (any case),
    `phone_digits` part of the phone; with both, either matches."""
    query = uow.scope.select(contacts)
    matches = []
    if search:
        matches.append(func.lower(contacts.c.name).like(_like(search.lower()), escape="\\"))
    if phone_digits:
        matches.append(contacts.c.phone.like(_like(phone_digits), escape="\\"))
    if matches:
        query = query.where(or_(*matches))
    if label_id is not None:
        query = query.where(
            exists().where(
                contact_labels.c.contact_id == contacts.c.id,
                contact_labels.c.label_id == label_id,
                contact_labels.c.tenant_id == uow.scope.tenant_id,
            )
        )
    rows = await paginate(uow.conn, query, CONTACTS_ORDER, page)
    return rows.map(lambda row: from_row(ContactRecord, row))


async def get(uow: UnitOfWork, contact_id: int, *, lock: bool = False) -> ContactRecord | None:
    query = uow.scope.select(contacts).where(contacts.c.id == contact_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(ContactRecord, row) if row else None


async def get_many(uow: UnitOfWork, contact_ids: list[int]) -> list[ContactRecord]:
    if not contact_ids:
        return []
    query = uow.scope.select(contacts).where(contacts.c.id.in_(contact_ids)).order_by(contacts.c.id)
    return from_rows(ContactRecord, await uow.conn.execute(query))


async def add_or_get(
    uow: UnitOfWork, *, phone: str, name: str | None, notes: str | None, now: datetime
) -> tuple[ContactRecord, bool]:
    """The contact with this phone, and whether this call created it. One statement decides
    (the unique key on tenant and phone), so racing callers all get the one row."""
    values = uow.scope.row(phone=phone, name=name, notes=notes, created_at=now, updated_at=now)
    statement = (
        insert(contacts)
        .values(values)
        .on_conflict_do_nothing(index_elements=[contacts.c.tenant_id, contacts.c.phone])
        .returning(contacts)
    )
    row = (await uow.conn.execute(statement)).one_or_none()
    if row is not None:
        return from_row(ContactRecord, row), True
    query = uow.scope.select(contacts).where(contacts.c.phone == phone)
    return from_row(ContactRecord, (await uow.conn.execute(query)).one()), False


async def update(uow: UnitOfWork, contact_id: int, changes: ContactChanges) -> ContactRecord | None:
    statement = uow.scope.update(contacts).where(contacts.c.id == contact_id)
    # Nothing to change still answers the row (ids are GENERATED ALWAYS: SET id = id fails).
    statement = statement.values(**(changed(changes) or {"tenant_id": contacts.c.tenant_id}))
    row = (await uow.conn.execute(statement.returning(contacts))).one_or_none()
    return from_row(ContactRecord, row) if row else None


async def touch(uow: UnitOfWork, contact_id: int, now: datetime) -> ContactRecord | None:
    return await update(uow, contact_id, ContactChanges(updated_at=now))


async def delete(uow: UnitOfWork, contact_id: int) -> bool:
    """Its labels and field values go with it (cascades); conversations keep a null contact."""
    statement = uow.scope.delete(contacts).where(contacts.c.id == contact_id)
    return (await uow.conn.execute(statement.returning(contacts.c.id))).one_or_none() is not None


async def attach_label(uow: UnitOfWork, contact_id: int, label_id: int, now: datetime) -> bool:
    """Whether the label was newly attached (an attached label stays one row)."""
    statement = (
        insert(contact_labels)
        .values(uow.scope.row(contact_id=contact_id, label_id=label_id, created_at=now))
        .on_conflict_do_nothing()
        .returning(contact_labels.c.label_id)
    )
    return (await uow.conn.execute(statement)).one_or_none() is not None


async def detach_label(uow: UnitOfWork, contact_id: int, label_id: int) -> bool:
    statement = (
        uow.scope.delete(contact_labels)
        .where(contact_labels.c.contact_id == contact_id, contact_labels.c.label_id == label_id)
        .returning(contact_labels.c.label_id)
    )
    return (await uow.conn.execute(statement)).one_or_none() is not None


async def values_of(uow: UnitOfWork, contact_ids: list[int]) -> dict[int, list[ContactFieldValue]]:
    """Each contact's custom-field values, in the definitions' display order."""
    if not contact_ids:
        return {}
    defs = custom_field_definitions
    query = (
        select(
            custom_field_values.c.contact_id,
            custom_field_values.c.definition_id,
            defs.c.name,
            custom_field_values.c.value,
        )
        .select_from(
            custom_field_values.join(defs, defs.c.id == custom_field_values.c.definition_id)
        )
        .where(
            custom_field_values.c.tenant_id == uow.scope.tenant_id,
            custom_field_values.c.contact_id.in_(contact_ids),
        )
        .order_by(defs.c.position, defs.c.id)
    )
    found: dict[int, list[ContactFieldValue]] = {}
    for row in await uow.conn.execute(query):
        found.setdefault(row.contact_id, []).append(from_row(ContactFieldValue, row))
    return found


async def existing_definitions(uow: UnitOfWork, ids: list[int]) -> set[int]:
    """Which of these ids are custom-field definitions of the workspace (locked against a
    concurrent delete until the commit)."""
    if not ids:
        return set()
    defs = custom_field_definitions
    query = (
        uow.scope.select(defs, defs.c.id).where(defs.c.id.in_(ids)).with_for_update(key_share=True)
    )
    return set(await uow.conn.scalars(query))


async def set_values(
    uow: UnitOfWork, contact_id: int, values: dict[int, str | None], now: datetime
) -> bool:
    """Writes text values and deletes cleared ones; whether anything changed."""
    touched = False
    cleared = [d for d, v in values.items() if v is None]
    if cleared:
        clear = uow.scope.delete(custom_field_values).where(
            custom_field_values.c.contact_id == contact_id,
            custom_field_values.c.definition_id.in_(cleared),
        )
        touched = (await uow.conn.execute(clear)).rowcount > 0
    rows = [
        uow.scope.row(
            contact_id=contact_id, definition_id=d, value=v, created_at=now, updated_at=now
        )
        for d, v in values.items()
        if v is not None
    ]
    if rows:
        upsert = insert(custom_field_values).values(rows)
        upsert = upsert.on_conflict_do_update(
            index_elements=[custom_field_values.c.contact_id, custom_field_values.c.definition_id],
            set_={"value": upsert.excluded.value, "updated_at": upsert.excluded.updated_at},
            where=custom_field_values.c.value.is_distinct_from(upsert.excluded.value),
        )
        written = await uow.conn.execute(upsert.returning(custom_field_values.c.definition_id))
        touched = bool(written.all()) or touched
    return touched
