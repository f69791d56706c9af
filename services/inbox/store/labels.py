"""SQL for labels (their attachments to conversations and contacts go with them: the FKs
cascade)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from services.inbox.domain.catalogue_models import Label
from services.inbox.store.catalogue_ordering import execute_named
from services.inbox.store.tables import contact_labels, labels
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row

LABELS_ORDER = Keyset("inbox.labels", id=labels.c.id, sort=labels.c.position)


@dataclass(frozen=True)
class LabelChanges:
    name: str | Unset = UNSET
    color: str | Unset | None = UNSET
    updated_at: datetime | Unset = UNSET


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[Label]:
    rows = await paginate(uow.conn, uow.scope.select(labels), LABELS_ORDER, page)
    return rows.map(lambda row: from_row(Label, row))


async def get(uow: UnitOfWork, label_id: int) -> Label | None:
    query = uow.scope.select(labels).where(labels.c.id == label_id)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(Label, row) if row else None


async def add(
    uow: UnitOfWork, *, name: str, color: str | None, position: int, now: datetime
) -> Label:
    """The new label; NameTaken when the workspace has one of that name (any case)."""
    values = uow.scope.row(
        name=name, color=color, position=position, created_at=now, updated_at=now
    )
    row = await execute_named(uow, insert(labels).values(values).returning(labels))
    assert row is not None
    return from_row(Label, row)


async def update(uow: UnitOfWork, label_id: int, changes: LabelChanges) -> Label | None:
    """The changed label, None when there is no such label; NameTaken on a clash."""
    statement = uow.scope.update(labels).where(labels.c.id == label_id)
    # Nothing to change still answers the row (ids are GENERATED ALWAYS: SET id = id fails).
    statement = statement.values(**(changed(changes) or {"tenant_id": labels.c.tenant_id}))
    row = await execute_named(uow, statement.returning(labels))
    return from_row(Label, row) if row else None


async def delete(uow: UnitOfWork, label_id: int) -> list[int] | None:
    """Deletes the label; the ids of the contacts that carried it, or None when there was no
    such label."""
    carriers = (
        select(contact_labels.c.contact_id)
        .where(
            contact_labels.c.label_id == label_id,
            contact_labels.c.tenant_id == uow.scope.tenant_id,
        )
        .order_by(contact_labels.c.contact_id)
    )
    contact_ids = list(await uow.conn.scalars(carriers))
    statement = uow.scope.delete(labels).where(labels.c.id == label_id).returning(labels.c.id)
    if (await uow.conn.execute(statement)).one_or_none() is None:
        return None
    return contact_ids


async def of_contacts(uow: UnitOfWork, contact_ids: list[int]) -> dict[int, list[Label]]:
    """Each contact's labels, in the labels' display order."""
    if not contact_ids:
        return {}
    query = (
        select(contact_labels.c.contact_id, *labels.c)
        .select_from(contact_labels.join(labels, labels.c.id == contact_labels.c.label_id))
        .where(
            contact_labels.c.tenant_id == uow.scope.tenant_id,
            contact_labels.c.contact_id.in_(contact_ids),
        )
        .order_by(labels.c.position, labels.c.id)
    )
    found: dict[int, list[Label]] = {}
    for row in await uow.conn.execute(query):
        found.setdefault(row.contact_id, []).append(from_row(Label, row))
    return found
