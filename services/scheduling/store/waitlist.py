"""SQL of the waitlist and of the offers sent when a slot frees up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.kit.db import UnitOfWork
from services.kit.errors import not_found
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row, from_rows
from services.scheduling.store.tables import waitlist, waitlist_offers

WAITLIST_ORDER = Keyset("scheduling.waitlist", id=waitlist.c.id)


@dataclass(frozen=True)
class EntryRow:
    id: int
    tenant_id: int
    service_id: int
    provider_id: int | None
    contact_id: int | None
    phone: str
    notes: str
    status: str
    offered_at: datetime | None
    offered_appointment_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class OfferRow:
    id: int
    tenant_id: int
    entry_id: int
    appointment_id: int
    text: str
    attempts: int


async def list_entries(uow: UnitOfWork, page: PageQuery) -> Page[EntryRow]:
    rows = await paginate(uow.conn, uow.scope.select(waitlist), WAITLIST_ORDER, page)
    return rows.map(lambda row: from_row(EntryRow, row))


async def delete_entry_or_404(uow: UnitOfWork, entry_id: int) -> None:
    result = await uow.conn.execute(uow.scope.delete(waitlist).where(waitlist.c.id == entry_id))
    if not result.rowcount:
        raise not_found("Waitlist entry")


async def add_entry(uow: UnitOfWork, values: dict[str, Any]) -> EntryRow:
    row = (
        await uow.conn.execute(
            waitlist.insert()
            .values(**uow.scope.row(**values, status="waiting", created_at=uow.clock.now()))
            .returning(*waitlist.c)
        )
    ).one()
    return from_row(EntryRow, row)


async def first_waiting(
    uow: UnitOfWork, tenant_id: int, service_id: int, provider_id: int
) -> EntryRow | None:
    """The oldest waiting entry for this service (and this provider or any), locked."""
    query = (
        uow.scope_of(tenant_id)
        .select(waitlist)
        .where(
            waitlist.c.status == "waiting",
            waitlist.c.service_id == service_id,
            (waitlist.c.provider_id.is_(None)) | (waitlist.c.provider_id == provider_id),
        )
        .order_by(waitlist.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(EntryRow, row) if row else None


async def mark_offered(uow: UnitOfWork, entry: EntryRow, appointment_id: int, text: str) -> None:
    now = uow.clock.now()
    await uow.conn.execute(
        waitlist.update()
        .where(waitlist.c.id == entry.id)
        .values(status="offered", offered_at=now, offered_appointment_id=appointment_id)
    )
    await uow.conn.execute(
        waitlist_offers.insert().values(
            tenant_id=entry.tenant_id,
            entry_id=entry.id,
            appointment_id=appointment_id,
            text=text,
            status="pending",
            attempts=0,
            next_attempt_at=now,
        )
    )


async def claim_due_offers(uow: UnitOfWork, now: datetime, limit: int) -> list[OfferRow]:
    query = (
        select(waitlist_offers)
        .where(waitlist_offers.c.status == "pending", waitlist_offers.c.next_attempt_at <= now)
        .order_by(waitlist_offers.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return from_rows(OfferRow, await uow.conn.execute(query))


async def get_entry(uow: UnitOfWork, entry_id: int) -> EntryRow | None:
    row = (await uow.conn.execute(select(waitlist).where(waitlist.c.id == entry_id))).one_or_none()
    return from_row(EntryRow, row) if row else None


async def finish_offer(
    uow: UnitOfWork,
    offer_id: int,
    now: datetime,
    *,
    sent: bool,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    values: dict[str, Any] = {"attempts": waitlist_offers.c.attempts + 1, "last_error": error}
    if sent:
        values |= {"status": "sent", "sent_at": now}
    elif retry_at is not None:
        values |= {"next_attempt_at": retry_at}
    else:
        values |= {"status": "failed"}
    await uow.conn.execute(
        waitlist_offers.update().where(waitlist_offers.c.id == offer_id).values(values)
    )
