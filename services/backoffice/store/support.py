"""SQL for support tickets, their messages, tags, canned replies and viewing presence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Select,
    SmallInteger,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.backoffice.store.tenant_directory import metadata
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row, from_rows

tickets = Table(
    "tickets",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("opened_by_user_id", BigInteger, nullable=False),
    Column("opened_by_email", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("assignee_staff_id", BigInteger),
    Column("rating", SmallInteger),
    Column("rating_comment", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("staff_notified_at", DateTime(timezone=True)),
)

ticket_messages = Table(
    "ticket_messages",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("ticket_id", BigInteger, ForeignKey("backoffice.tickets.id"), nullable=False),
    Column("tenant_id", BigInteger, nullable=False),
    Column("author_kind", Text, nullable=False),
    Column("author_id", BigInteger, nullable=False),
    Column("impersonator_staff_id", BigInteger),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("customer_notified_at", DateTime(timezone=True)),
)

support_tags = Table(
    "support_tags",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

ticket_tags = Table(
    "ticket_tags",
    metadata,
    Column("ticket_id", BigInteger, ForeignKey("backoffice.tickets.id"), primary_key=True),
    Column("tag_id", BigInteger, ForeignKey("backoffice.support_tags.id"), primary_key=True),
)

canned_replies = Table(
    "canned_replies",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_by_staff_id", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

ticket_viewers = Table(
    "ticket_viewers",
    metadata,
    Column("ticket_id", BigInteger, ForeignKey("backoffice.tickets.id"), primary_key=True),
    Column("staff_id", BigInteger, primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

TICKETS_ORDER = Keyset("backoffice.tickets", id=tickets.c.id, descending=True)
CANNED_ORDER = Keyset("backoffice.canned_replies", id=canned_replies.c.id)


@dataclass(frozen=True)
class TicketRow:
    id: int
    tenant_id: int
    opened_by_user_id: int
    opened_by_email: str
    subject: str
    status: str
    priority: str
    assignee_staff_id: int | None
    rating: int | None
    rating_comment: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class MessageRow:
    id: int
    ticket_id: int
    tenant_id: int
    author_kind: str
    author_id: int
    impersonator_staff_id: int | None
    body: str
    created_at: datetime


@dataclass(frozen=True)
class TagRow:
    id: int
    name: str


@dataclass(frozen=True)
class ViewerRow:
    staff_id: int
    expires_at: datetime


@dataclass(frozen=True)
class CannedRow:
    id: int
    title: str
    body: str
    created_by_staff_id: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TicketFilter:
    tenant_id: int | None = None
    status: str | None = None
    priority: str | None = None
    tag_id: int | None = None
    assignee_staff_id: int | None = None


# ── tickets ─────────────────────────────────────────────────────────────────────────────────


async def add_ticket(conn: AsyncConnection, **values: Any) -> TicketRow:
    row = (await conn.execute(insert(tickets).values(**values).returning(tickets))).one()
    return from_row(TicketRow, row)


async def get_ticket(
    conn: AsyncConnection, ticket_id: int, tenant_id: int | None = None, lock: bool = False
) -> TicketRow | None:
    """A ticket; with `tenant_id`, only that workspace's (a member's view)."""
    query: Select[Any] = select(tickets).where(tickets.c.id == ticket_id)
    if tenant_id is not None:
        query = query.where(tickets.c.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).one_or_none()
    return from_row(TicketRow, row) if row else None


async def update_ticket(conn: AsyncConnection, ticket_id: int, **values: Any) -> TicketRow:
    statement = update(tickets).where(tickets.c.id == ticket_id).values(**values)
    return from_row(TicketRow, (await conn.execute(statement.returning(tickets))).one())


async def list_tickets(
    conn: AsyncConnection, where: TicketFilter, page: PageQuery
) -> Page[TicketRow]:
    query = select(tickets)
    if where.tenant_id is not None:
        query = query.where(tickets.c.tenant_id == where.tenant_id)
    if where.status is not None:
        query = query.where(tickets.c.status == where.status)
    if where.priority is not None:
        query = query.where(tickets.c.priority == where.priority)
    if where.assignee_staff_id is not None:
        query = query.where(tickets.c.assignee_staff_id == where.assignee_staff_id)
    if where.tag_id is not None:
        tagged = select(ticket_tags.c.ticket_id).where(ticket_tags.c.tag_id == where.tag_id)
        query = query.where(tickets.c.id.in_(tagged))
    rows = await paginate(conn, query, TICKETS_ORDER, page)
    return rows.map(lambda row: from_row(TicketRow, row))


async def erase_tenant(conn: AsyncConnection, tenant_id: int) -> None:
    """Messages, tags and viewers go with the tickets (ON DELETE CASCADE)."""
    await conn.execute(delete(tickets).where(tickets.c.tenant_id == tenant_id))


# ── messages ────────────────────────────────────────────────────────────────────────────────


async def add_message(conn: AsyncConnection, **values: Any) -> MessageRow:
    statement = insert(ticket_messages).values(**values).returning(ticket_messages)
    return from_row(MessageRow, (await conn.execute(statement)).one())


async def messages_of(conn: AsyncConnection, ticket_id: int) -> list[MessageRow]:
    query = (
        select(ticket_messages)
        .where(ticket_messages.c.ticket_id == ticket_id)
        .order_by(ticket_messages.c.id)
    )
    return from_rows(MessageRow, await conn.execute(query))


# ── tags ────────────────────────────────────────────────────────────────────────────────────


async def add_tag(conn: AsyncConnection, name: str, at: datetime) -> TagRow | None:
    """None when a tag of that name (in any case) exists."""
    statement = (
        pg_insert(support_tags)
        .values(name=name, created_at=at)
        .on_conflict_do_nothing()
        .returning(support_tags.c.id, support_tags.c.name)
    )
    row = (await conn.execute(statement)).one_or_none()
    return from_row(TagRow, row) if row else None


async def list_tags(conn: AsyncConnection) -> list[TagRow]:
    query = select(support_tags.c.id, support_tags.c.name).order_by(func.lower(support_tags.c.name))
    return from_rows(TagRow, await conn.execute(query))


async def delete_tag(conn: AsyncConnection, tag_id: int) -> TagRow | None:
    statement = (
        delete(support_tags)
        .where(support_tags.c.id == tag_id)
        .returning(support_tags.c.id, support_tags.c.name)
    )
    row = (await conn.execute(statement)).one_or_none()
    return from_row(TagRow, row) if row else None


async def existing_tags(conn: AsyncConnection, tag_ids: list[int]) -> list[TagRow]:
    query = select(support_tags.c.id, support_tags.c.name).where(support_tags.c.id.in_(tag_ids))
    return from_rows(TagRow, await conn.execute(query))


async def tags_of(conn: AsyncConnection, ticket_ids: list[int]) -> dict[int, list[TagRow]]:
    query = (
        select(ticket_tags.c.ticket_id, support_tags.c.id, support_tags.c.name)
        .join(support_tags, support_tags.c.id == ticket_tags.c.tag_id)
        .where(ticket_tags.c.ticket_id.in_(ticket_ids))
        .order_by(func.lower(support_tags.c.name))
    )
    found: dict[int, list[TagRow]] = {}
    for row in await conn.execute(query):
        found.setdefault(row.ticket_id, []).append(TagRow(row.id, row.name))
    return found


async def replace_tags(conn: AsyncConnection, ticket_id: int, tag_ids: list[int]) -> None:
    await conn.execute(delete(ticket_tags).where(ticket_tags.c.ticket_id == ticket_id))
    if tag_ids:
        await conn.execute(
            insert(ticket_tags), [{"ticket_id": ticket_id, "tag_id": t} for t in tag_ids]
        )


# ── viewing presence ────────────────────────────────────────────────────────────────────────


async def mark_viewing(
    conn: AsyncConnection, ticket_id: int, staff_id: int, expires_at: datetime
) -> None:
    statement = pg_insert(ticket_viewers).values(
        ticket_id=ticket_id, staff_id=staff_id, expires_at=expires_at
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["ticket_id", "staff_id"], set_={"expires_at": expires_at}
        )
    )


async def viewers_of(conn: AsyncConnection, ticket_id: int, now: datetime) -> list[ViewerRow]:
    query = (
        select(ticket_viewers.c.staff_id, ticket_viewers.c.expires_at)
        .where(ticket_viewers.c.ticket_id == ticket_id, ticket_viewers.c.expires_at > now)
        .order_by(ticket_viewers.c.staff_id)
    )
    return from_rows(ViewerRow, await conn.execute(query))


async def sweep_viewers(conn: AsyncConnection, now: datetime) -> None:
    await conn.execute(delete(ticket_viewers).where(ticket_viewers.c.expires_at <= now))


# ── canned replies ──────────────────────────────────────────────────────────────────────────


async def add_canned(conn: AsyncConnection, **values: Any) -> CannedRow:
    statement = insert(canned_replies).values(**values).returning(canned_replies)
    return from_row(CannedRow, (await conn.execute(statement)).one())


async def get_canned(conn: AsyncConnection, canned_id: int) -> CannedRow | None:
    query = select(canned_replies).where(canned_replies.c.id == canned_id)
    row = (await conn.execute(query)).one_or_none()
    return from_row(CannedRow, row) if row else None


async def list_canned(conn: AsyncConnection, page: PageQuery) -> Page[CannedRow]:
    rows = await paginate(conn, select(canned_replies), CANNED_ORDER, page)
    return rows.map(lambda row: from_row(CannedRow, row))


async def update_canned(conn: AsyncConnection, canned_id: int, **values: Any) -> CannedRow:
    statement = update(canned_replies).where(canned_replies.c.id == canned_id).values(**values)
    return from_row(CannedRow, (await conn.execute(statement.returning(canned_replies))).one())


async def delete_canned(conn: AsyncConnection, canned_id: int) -> CannedRow | None:
    statement = (
        delete(canned_replies).where(canned_replies.c.id == canned_id).returning(canned_replies)
    )
    row = (await conn.execute(statement)).one_or_none()
    return from_row(CannedRow, row) if row else None


# ── notices (pushes to staff, emails to customers) ──────────────────────────────────────────


async def claim_unannounced_tickets(conn: AsyncConnection, limit: int) -> list[TicketRow]:
    """New tickets staff were not told about yet; locked until the caller's commit."""
    query = (
        select(tickets)
        .where(tickets.c.staff_notified_at.is_(None))
        .order_by(tickets.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return from_rows(TicketRow, await conn.execute(query))


async def mark_staff_notified(conn: AsyncConnection, ticket_id: int, at: datetime) -> None:
    await conn.execute(
        update(tickets).where(tickets.c.id == ticket_id).values(staff_notified_at=at)
    )


async def claim_unsent_replies(
    conn: AsyncConnection, limit: int
) -> list[tuple[MessageRow, TicketRow]]:
    """Staff replies not yet emailed to the customer, with their ticket; locked."""
    m = ticket_messages
    query = (
        select(m)
        .where(m.c.author_kind == "staff", m.c.customer_notified_at.is_(None))
        .order_by(m.c.id)
        .limit(limit)
        .with_for_update(of=m, skip_locked=True)
    )
    replies = from_rows(MessageRow, await conn.execute(query))
    if not replies:
        return []
    ids = {r.ticket_id for r in replies}
    found = {
        t.id: t
        for t in from_rows(
            TicketRow, await conn.execute(select(tickets).where(tickets.c.id.in_(ids)))
        )
    }
    return [(r, found[r.ticket_id]) for r in replies]


async def mark_customer_notified(conn: AsyncConnection, message_id: int, at: datetime) -> None:
    await conn.execute(
        update(ticket_messages)
        .where(ticket_messages.c.id == message_id)
        .values(customer_notified_at=at)
    )
