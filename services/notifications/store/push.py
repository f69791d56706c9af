"""SQL for web push: subscriptions, the queue of pushes, members' roles and availability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, Table, Text, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.rows import from_row, from_rows
from services.notifications.store.tables import metadata

push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("owner_kind", Text, nullable=False),
    Column("owner_id", BigInteger, nullable=False),
    Column("tenant_id", BigInteger),
    Column("endpoint", Text, nullable=False),
    Column("p256dh", Text, nullable=False),
    Column("auth", Text, nullable=False),
    Column("content_encoding", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
push_queue = Table(
    "push_queue",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("subscription_id", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
members = Table(
    "members",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("role", Text, nullable=False),
    Column("status", Text, nullable=False),
)


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    endpoint: str
    content_encoding: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Target:
    user_id: int
    role: str


async def upsert(
    conn: AsyncConnection,
    *,
    owner_kind: str,
    owner_id: int,
    tenant_id: int | None,
    endpoint: str,
    p256dh: str,
    auth: str,
    content_encoding: str,
    now: datetime,
) -> SubscriptionRow:
    values = {
        "p256dh": p256dh,
        "auth": auth,
        "content_encoding": content_encoding,
        "updated_at": now,
    }
    statement = pg_insert(push_subscriptions).values(
        owner_kind=owner_kind,
        owner_id=owner_id,
        tenant_id=tenant_id,
        endpoint=endpoint,
        created_at=now,
        **values,
    )
    upsert_statement = statement.on_conflict_do_update(
        index_elements=["owner_kind", "owner_id", "endpoint"], set_=values
    ).returning(push_subscriptions)
    return from_row(SubscriptionRow, (await conn.execute(upsert_statement)).one())


async def remove(conn: AsyncConnection, owner_kind: str, owner_id: int, endpoint: str) -> None:
    await conn.execute(
        push_subscriptions.delete().where(
            push_subscriptions.c.owner_kind == owner_kind,
            push_subscriptions.c.owner_id == owner_id,
            push_subscriptions.c.endpoint == endpoint,
        )
    )


async def delete_subscription(conn: AsyncConnection, subscription_id: int) -> None:
    await conn.execute(
        push_subscriptions.delete().where(push_subscriptions.c.id == subscription_id)
    )


async def enqueue_for_users(
    conn: AsyncConnection, tenant_id: int, user_ids: list[int] | None, payload: str, now: datetime
) -> int:
    """Queues one push per subscription of these members (all subscribed members when None)."""
    condition = "owner_kind = 'user' AND tenant_id = :tenant"
    params: dict[str, Any] = {"tenant": tenant_id, "payload": payload, "now": now}
    if user_ids is not None:
        if not user_ids:
            return 0
        condition += " AND owner_id = ANY(CAST(:users AS bigint[]))"
        params["users"] = user_ids
    result = await conn.execute(
        text(
            "INSERT INTO push_queue (subscription_id, payload, next_attempt_at, created_at) "
            f"SELECT id, :payload, :now, :now FROM push_subscriptions WHERE {condition}"
        ),
        params,
    )
    return int(result.rowcount or 0)


async def enqueue_many(
    conn: AsyncConnection, pushes: list[tuple[int, int, str]], now: datetime
) -> None:
    """A batch of (tenant, member, payload): one push per subscription of each, queued in the
    order given (`enqueue_for_users` for one payload)."""
    if not pushes:
        return
    tenants, users, payloads = zip(*pushes, strict=True)
    await conn.execute(
        text(
            "INSERT INTO push_queue (subscription_id, payload, next_attempt_at, created_at) "
            "SELECT s.id, p.payload, :now, :now "
            "FROM unnest(CAST(:t AS bigint[]), CAST(:u AS bigint[]), CAST(:p AS text[])) "
            "WITH ORDINALITY AS p(tenant_id, user_id, payload, n) "
            "JOIN push_subscriptions s ON s.owner_kind = 'user' AND s.tenant_id = p.tenant_id "
            "AND s.owner_id = p.user_id ORDER BY p.n, s.id"
        ),
        {"t": list(tenants), "u": list(users), "p": list(payloads), "now": now},
    )


async def available_by_tenant(
    conn: AsyncConnection, tenant_ids: list[int]
) -> dict[int, list[Target]]:
    """`available` for a batch's tenants."""
    query = select(members.c.tenant_id, members.c.user_id, members.c.role).where(
        members.c.tenant_id.in_(tenant_ids), members.c.status == "available"
    )
    found: dict[int, list[Target]] = {}
    for tenant_id, user_id, role in await conn.execute(query):
        found.setdefault(tenant_id, []).append(Target(user_id, role))
    return found


async def enqueue_for_staff(conn: AsyncConnection, payload: str, now: datetime) -> int:
    result = await conn.execute(
        text(
            "INSERT INTO push_queue (subscription_id, payload, next_attempt_at, created_at) "
            "SELECT id, :payload, :now, :now FROM push_subscriptions WHERE owner_kind = 'staff'"
        ),
        {"payload": payload, "now": now},
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Due:
    id: int
    subscription_id: int
    payload: str
    attempts: int
    endpoint: str
    p256dh: str
    auth: str
    content_encoding: str


_CLAIM = text(
    """
    UPDATE push_queue SET next_attempt_at = :lease
    FROM push_subscriptions s
    WHERE push_queue.id IN (
        SELECT id FROM push_queue WHERE next_attempt_at <= :now
        ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
    ) AND s.id = push_queue.subscription_id
    RETURNING push_queue.id, push_queue.subscription_id, push_queue.payload, push_queue.attempts,
        s.endpoint, s.p256dh, s.auth, s.content_encoding
    """
)


async def claim(conn: AsyncConnection, now: datetime, limit: int) -> list[Due]:
    rows = await conn.execute(
        _CLAIM, {"now": now, "lease": now + timedelta(seconds=60), "limit": limit}
    )
    return from_rows(Due, rows.all())


async def done(conn: AsyncConnection, queue_id: int) -> None:
    await conn.execute(push_queue.delete().where(push_queue.c.id == queue_id))


async def later(conn: AsyncConnection, queue_id: int, attempts: int, at: datetime) -> None:
    await conn.execute(
        push_queue.update()
        .where(push_queue.c.id == queue_id)
        .values(attempts=attempts, next_attempt_at=at)
    )


async def set_member(conn: AsyncConnection, tenant_id: int, user_id: int, **values: str) -> None:
    statement = pg_insert(members).values(tenant_id=tenant_id, user_id=user_id, **values)
    await conn.execute(
        statement.on_conflict_do_update(index_elements=["tenant_id", "user_id"], set_=values)
    )


async def remove_member(conn: AsyncConnection, tenant_id: int, user_id: int) -> None:
    await conn.execute(
        members.delete().where(members.c.tenant_id == tenant_id, members.c.user_id == user_id)
    )
    await conn.execute(
        push_subscriptions.delete().where(
            push_subscriptions.c.owner_kind == "user", push_subscriptions.c.owner_id == user_id
        )
    )


async def available(conn: AsyncConnection, tenant_id: int) -> list[Target]:
    query = select(members.c.user_id, members.c.role).where(
        members.c.tenant_id == tenant_id, members.c.status == "available"
    )
    return from_rows(Target, (await conn.execute(query)).all())
