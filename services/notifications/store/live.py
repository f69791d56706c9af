"""SQL for the live stream: its events, the replicated assignees and settings, stream tickets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    LargeBinary,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.jobs import advisory_key
from services.kit.rows import from_rows
from services.notifications.store.tables import metadata

live_events = Table(
    "live_events",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("type", Text, nullable=False),
    Column("conversation_id", BigInteger),
    Column("assignees", ARRAY(BigInteger), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
conversation_assignees = Table(
    "conversation_assignees",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("conversation_id", BigInteger, primary_key=True),
    Column("assigned_user_id", BigInteger),
)
tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("agents_restricted", Boolean, nullable=False),
)
stream_tickets = Table(
    "stream_tickets",
    metadata,
    Column("ticket_hash", LargeBinary, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("principal", LargeBinary, nullable=False),
    Column("method", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

LIVE_CHANNEL = "notifications_live"
# Inserts of live events take this lock until they commit, so seq order is commit order.
_INSERT_LOCK = advisory_key("notifications", "live_events_insert")


@dataclass(frozen=True)
class LiveRow:
    seq: int
    tenant_id: int
    type: str
    conversation_id: int | None
    assignees: list[int | None]
    data: str
    created_at: datetime


async def add_events(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """A batch of events in order: one lock, one INSERT, one NOTIFY (seq follows the order).
    Each row has tenant_id, type, conversation_id, assignees, data and created_at."""
    if not rows:
        return
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INSERT_LOCK})
    await conn.execute(
        insert(live_events),
        [
            {**row, "data": json.dumps(row["data"], separators=(",", ":"), ensure_ascii=False)}
            for row in rows
        ],
    )
    await conn.execute(text(f"NOTIFY {LIVE_CHANNEL}"))


async def events_after(conn: AsyncConnection, seq: int, limit: int) -> list[LiveRow]:
    query = (
        select(live_events).where(live_events.c.seq > seq).order_by(live_events.c.seq).limit(limit)
    )
    return from_rows(LiveRow, (await conn.execute(query)).all())


async def tenant_events_after(
    conn: AsyncConnection, tenant_id: int, seq: int, up_to: int, limit: int
) -> list[LiveRow]:
    query = (
        select(live_events)
        .where(
            live_events.c.tenant_id == tenant_id,
            live_events.c.seq > seq,
            live_events.c.seq <= up_to,
        )
        .order_by(live_events.c.seq)
        .limit(limit)
    )
    return from_rows(LiveRow, (await conn.execute(query)).all())


async def last_seq(conn: AsyncConnection) -> int:
    return int(await conn.scalar(text("SELECT coalesce(max(seq), 0) FROM live_events")) or 0)


async def oldest_seq(conn: AsyncConnection, tenant_id: int) -> int | None:
    value = await conn.scalar(
        text("SELECT min(seq) FROM live_events WHERE tenant_id = :t"), {"t": tenant_id}
    )
    return int(value) if value is not None else None


async def purge(conn: AsyncConnection, before: datetime) -> None:
    await conn.execute(live_events.delete().where(live_events.c.created_at < before))
    await conn.execute(stream_tickets.delete().where(stream_tickets.c.expires_at < before))


async def assignees_of(
    conn: AsyncConnection, keys: set[tuple[int, int]]
) -> dict[tuple[int, int], int | None]:
    """The recorded assignee of each known (tenant, conversation)."""
    if not keys:
        return {}
    tenants, conversations = zip(*sorted(keys), strict=True)
    rows = await conn.execute(
        text(
            "SELECT tenant_id, conversation_id, assigned_user_id FROM conversation_assignees "
            "WHERE (tenant_id, conversation_id) IN "
            "(SELECT * FROM unnest(CAST(:t AS bigint[]), CAST(:c AS bigint[])))"
        ),
        {"t": list(tenants), "c": list(conversations)},
    )
    return {(t, c): a for t, c, a in rows}


async def save_assignees(
    conn: AsyncConnection,
    assignees: dict[tuple[int, int], int | None],
    forgotten: set[tuple[int, int]],
) -> None:
    """A batch's final state of the conversations it changed: upserts, then deletions."""
    if assignees:
        statement = pg_insert(conversation_assignees)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "conversation_id"],
                set_={"assigned_user_id": statement.excluded.assigned_user_id},
            ),
            [
                {"tenant_id": t, "conversation_id": c, "assigned_user_id": a}
                for (t, c), a in sorted(assignees.items())
            ],
        )
    if forgotten:
        tenants, conversations = zip(*sorted(forgotten), strict=True)
        await conn.execute(
            text(
                "DELETE FROM conversation_assignees WHERE (tenant_id, conversation_id) IN "
                "(SELECT * FROM unnest(CAST(:t AS bigint[]), CAST(:c AS bigint[])))"
            ),
            {"t": list(tenants), "c": list(conversations)},
        )


async def set_restricted(conn: AsyncConnection, tenant_id: int, restricted: bool) -> None:
    statement = pg_insert(tenant_settings).values(tenant_id=tenant_id, agents_restricted=restricted)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id"], set_={"agents_restricted": restricted}
        )
    )


async def restricted_tenants(conn: AsyncConnection, tenant_ids: list[int]) -> set[int]:
    query = select(tenant_settings.c.tenant_id).where(
        tenant_settings.c.tenant_id.in_(tenant_ids), tenant_settings.c.agents_restricted
    )
    return set((await conn.execute(query)).scalars())


async def add_ticket(
    conn: AsyncConnection,
    ticket_hash: bytes,
    tenant_id: int,
    principal: bytes,
    method: str,
    expires_at: datetime,
) -> None:
    await conn.execute(
        insert(stream_tickets).values(
            ticket_hash=ticket_hash,
            tenant_id=tenant_id,
            principal=principal,
            method=method,
            expires_at=expires_at,
        )
    )


async def redeem_ticket(
    conn: AsyncConnection, ticket_hash: bytes, method: str, now: datetime
) -> bytes | None:
    """The principal a ticket was minted for, marking it used; None when unknown, used, expired
    or made for another stream."""
    statement = (
        stream_tickets.update()
        .where(
            stream_tickets.c.ticket_hash == ticket_hash,
            stream_tickets.c.used_at.is_(None),
            stream_tickets.c.expires_at > now,
            stream_tickets.c.method == method,
        )
        .values(used_at=now)
        .returning(stream_tickets.c.principal)
    )
    return (await conn.execute(statement)).scalar()
