"""SQL for the public waitlist and its per-address attempt counter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Table, Text, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.backoffice.store.tenant_directory import metadata
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row

waitlist = Table(
    "waitlist",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("email", Text, nullable=False),
    Column("locale", Text),
    Column("referrer", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

waitlist_attempts = Table(
    "waitlist_attempts",
    metadata,
    Column("address", Text, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
)

WAITLIST_ORDER = Keyset("backoffice.waitlist", id=waitlist.c.id, descending=True)


@dataclass(frozen=True)
class WaitlistRow:
    id: int
    email: str
    locale: str | None
    referrer: str | None
    created_at: datetime


async def count_attempt(conn: AsyncConnection, address: str, now: datetime, since: datetime) -> int:
    """Records this attempt and answers how many the address made since `since` (this one
    included). The address's rows are locked while counting, so a burst counts exactly."""
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(address, 0))))
    await conn.execute(
        delete(waitlist_attempts).where(
            waitlist_attempts.c.address == address, waitlist_attempts.c.attempted_at < since
        )
    )
    await conn.execute(insert(waitlist_attempts).values(address=address, attempted_at=now))
    query = select(func.count()).where(waitlist_attempts.c.address == address)
    return int(await conn.scalar(query.select_from(waitlist_attempts)) or 0)


async def join(
    conn: AsyncConnection, *, email: str, locale: str | None, referrer: str | None, now: datetime
) -> WaitlistRow:
    """The entry of this email: added now, or the one it already had (the first one's locale
    and referrer are kept)."""
    statement = (
        pg_insert(waitlist)
        .values(email=email, locale=locale, referrer=referrer, created_at=now)
        .on_conflict_do_nothing()
        .returning(waitlist)
    )
    row = (await conn.execute(statement)).one_or_none()
    if row is None:
        query = select(waitlist).where(func.lower(waitlist.c.email) == email.lower())
        row = (await conn.execute(query)).one()
    return from_row(WaitlistRow, row)


async def list_page(conn: AsyncConnection, q: str | None, page: PageQuery) -> Page[WaitlistRow]:
    query = select(waitlist)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(waitlist.c.email.ilike(f"%{escaped}%"))
    rows = await paginate(conn, query, WAITLIST_ORDER, page)
    return rows.map(lambda row: from_row(WaitlistRow, row))
