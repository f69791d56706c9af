"""SQL for saved replies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

from services.inbox.domain.catalogue_models import SavedReply
from services.inbox.store.catalogue_tables import saved_replies
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row, from_rows

SAVED_REPLIES_ORDER = Keyset(
    "inbox.saved_replies", id=saved_replies.c.id, sort=saved_replies.c.position
)


@dataclass(frozen=True)
class SavedReplyChanges:
    label: str | Unset = UNSET
    body: str | Unset = UNSET
    updated_at: datetime | Unset = UNSET


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[SavedReply]:
    rows = await paginate(uow.conn, uow.scope.select(saved_replies), SAVED_REPLIES_ORDER, page)
    return rows.map(lambda row: from_row(SavedReply, row))


async def all_in_order(uow: UnitOfWork) -> list[SavedReply]:
    query = uow.scope.select(saved_replies).order_by(saved_replies.c.position, saved_replies.c.id)
    return from_rows(SavedReply, await uow.conn.execute(query))


async def add(
    uow: UnitOfWork, *, label: str, body: str, position: int, now: datetime
) -> SavedReply:
    values = uow.scope.row(
        label=label, body=body, position=position, created_at=now, updated_at=now
    )
    row = (
        await uow.conn.execute(insert(saved_replies).values(values).returning(saved_replies))
    ).one()
    return from_row(SavedReply, row)


async def update(uow: UnitOfWork, reply_id: int, changes: SavedReplyChanges) -> SavedReply | None:
    statement = uow.scope.update(saved_replies).where(saved_replies.c.id == reply_id)
    # Nothing to change still answers the row (ids are GENERATED ALWAYS: SET id = id fails).
    statement = statement.values(**(changed(changes) or {"tenant_id": saved_replies.c.tenant_id}))
    row = (await uow.conn.execute(statement.returning(saved_replies))).one_or_none()
    return from_row(SavedReply, row) if row else None


async def delete(uow: UnitOfWork, reply_id: int) -> bool:
    statement = (
        uow.scope.delete(saved_replies)
        .where(saved_replies.c.id == reply_id)
        .returning(saved_replies.c.id)
    )
    return (await uow.conn.execute(statement)).one_or_none() is not None
