"""SQL for webhook endpoints, deliveries and attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row, from_rows
from services.notifications.store.tables import attempts, deliveries, endpoints, tenant_owners

ENDPOINTS_ORDER = Keyset("notifications.endpoints", id=endpoints.c.id, descending=True)
DELIVERIES_ORDER = Keyset("notifications.deliveries", id=deliveries.c.id, descending=True)


@dataclass(frozen=True)
class EndpointRow:
    id: int
    tenant_id: int
    url: str
    description: str | None
    events: list[str]
    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_expires_at: datetime | None
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class EndpointChanges:
    url: str | Unset = UNSET
    description: str | Unset | None = UNSET
    events: list[str] | Unset = UNSET
    secret_sealed: str | Unset = UNSET
    previous_secret_sealed: str | Unset | None = UNSET
    previous_secret_expires_at: datetime | Unset | None = UNSET
    status: str | Unset = UNSET
    disabled_reason: str | Unset | None = UNSET
    disabled_at: datetime | Unset | None = UNSET
    failing_since: datetime | Unset | None = UNSET
    updated_at: datetime | Unset = UNSET


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    tenant_id: int
    endpoint_id: int
    event_id: str
    event_type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class AttemptRow:
    number: int
    started_at: datetime
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None
    succeeded: bool


# ── endpoints ────────────────────────────────────────────────────────────────────────────────


async def add_endpoint(uow: UnitOfWork, **values: Any) -> EndpointRow:
    statement = insert(endpoints).values(uow.scope.row(**values)).returning(endpoints)
    return from_row(EndpointRow, (await uow.conn.execute(statement)).one())


async def get_endpoint(
    uow: UnitOfWork, endpoint_id: int, *, lock: bool = False
) -> EndpointRow | None:
    query = uow.scope.select(endpoints).where(endpoints.c.id == endpoint_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(EndpointRow, row) if row else None


async def list_endpoints(uow: UnitOfWork, page: PageQuery) -> Page[EndpointRow]:
    rows = await paginate(uow.conn, uow.scope.select(endpoints), ENDPOINTS_ORDER, page)
    return rows.map(lambda row: from_row(EndpointRow, row))


async def update_endpoint(
    uow: UnitOfWork, endpoint_id: int, changes: EndpointChanges
) -> EndpointRow:
    statement = (
        uow.scope.update(endpoints)
        .where(endpoints.c.id == endpoint_id)
        .values(**changed(changes))
        .returning(endpoints)
    )
    return from_row(EndpointRow, (await uow.conn.execute(statement)).one())


async def delete_endpoint(uow: UnitOfWork, endpoint_id: int) -> bool:
    statement = (
        uow.scope.delete(endpoints).where(endpoints.c.id == endpoint_id).returning(endpoints.c.id)
    )
    return (await uow.conn.execute(statement)).first() is not None


async def subscribed(conn: AsyncConnection, tenant_id: int, event_type: str) -> list[int]:
    """The active endpoints of a tenant that subscribe to an event type."""
    query = select(endpoints.c.id).where(
        endpoints.c.tenant_id == tenant_id,
        endpoints.c.status == "active",
        endpoints.c.events.any_() == event_type,
    )
    return list((await conn.execute(query)).scalars())


async def subscribed_by_tenant(
    conn: AsyncConnection, tenant_ids: list[int]
) -> dict[int, list[tuple[int, list[str]]]]:
    """The active endpoints of these tenants with the event types they subscribe to, in id
    order: one query for a batch of events (`subscribed` for one)."""
    rows = await conn.execute(
        select(endpoints.c.id, endpoints.c.tenant_id, endpoints.c.events)
        .where(endpoints.c.tenant_id.in_(tenant_ids), endpoints.c.status == "active")
        .order_by(endpoints.c.id)
    )
    found: dict[int, list[tuple[int, list[str]]]] = {}
    for endpoint_id, tenant_id, events in rows:
        found.setdefault(tenant_id, []).append((endpoint_id, list(events)))
    return found


async def endpoint_by_id(conn: AsyncConnection, endpoint_id: int) -> EndpointRow | None:
    row = (await conn.execute(select(endpoints).where(endpoints.c.id == endpoint_id))).one_or_none()
    return from_row(EndpointRow, row) if row else None


async def set_endpoint(conn: AsyncConnection, endpoint_id: int, changes: EndpointChanges) -> None:
    await conn.execute(
        endpoints.update().where(endpoints.c.id == endpoint_id).values(**changed(changes))
    )


async def clear_failing(conn: AsyncConnection, endpoint_id: int) -> None:
    """A success ends the failing streak (no write when there was none)."""
    await conn.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id, endpoints.c.failing_since.is_not(None))
        .values(failing_since=None)
    )


async def fail_pending(conn: AsyncConnection, endpoint_id: int, reason: str) -> None:
    """Every delivery still waiting for this endpoint ends failed (it was disabled)."""
    await conn.execute(
        deliveries.update()
        .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status == "pending")
        .values(status="failed", next_attempt_at=None, last_error=reason)
    )


# ── deliveries ───────────────────────────────────────────────────────────────────────────────


_ADD_DELIVERIES = pg_insert(deliveries).on_conflict_do_nothing(
    index_elements=["endpoint_id", "event_id"]
)


# NOTIFY'd by the transactions that add deliveries; the dispatchers LISTEN on it.
DELIVERIES_CHANNEL = "notifications_deliveries"


def pending_deliveries(
    tenant_id: int,
    endpoint_ids: list[int],
    event_id: str,
    event_type: str,
    payload: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """The rows of one event's deliveries, one per subscribed endpoint, due now."""
    return [
        {
            "tenant_id": tenant_id,
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "event_type": event_type,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id in endpoint_ids
    ]


async def add_deliveries(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """One row per (event, endpoint), ids in the order given; a redelivered event adds nothing.
    One statement for any number of rows (executemany: SQLAlchemy sends them as one multi-row
    INSERT, compiled once). The dispatchers are woken when the transaction commits."""
    if rows:
        await conn.execute(_ADD_DELIVERIES, rows)
        await conn.execute(text(f"NOTIFY {DELIVERIES_CHANNEL}"))


async def get_delivery(
    uow: UnitOfWork, delivery_id: int, *, lock: bool = False
) -> DeliveryRow | None:
    query = uow.scope.select(deliveries).where(deliveries.c.id == delivery_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(DeliveryRow, row) if row else None


async def list_deliveries(
    uow: UnitOfWork, endpoint_id: int, status: str | None, page: PageQuery
) -> Page[DeliveryRow]:
    query = uow.scope.select(deliveries).where(deliveries.c.endpoint_id == endpoint_id)
    if status:
        query = query.where(deliveries.c.status == status)
    rows = await paginate(uow.conn, query, DELIVERIES_ORDER, page)
    return rows.map(lambda row: from_row(DeliveryRow, row))


async def attempts_of(uow: UnitOfWork, delivery_id: int) -> list[AttemptRow]:
    query = (
        select(attempts).where(attempts.c.delivery_id == delivery_id).order_by(attempts.c.number)
    )
    return from_rows(AttemptRow, (await uow.conn.execute(query)).all())


async def reset_delivery(uow: UnitOfWork, delivery_id: int, now: datetime) -> DeliveryRow:
    statement = (
        uow.scope.update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status="pending", attempts=0, next_attempt_at=now, delivered_at=None)
        .returning(deliveries)
    )
    return from_row(DeliveryRow, (await uow.conn.execute(statement)).one())


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    endpoint_id: int
    event_id: str
    payload: str
    attempts: int
    url: str
    endpoint_status: str
    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_expires_at: datetime | None


# Due deliveries in id (event) order, at most `per` per endpoint less what this process already
# runs for it (`busy`); each claimed row's next_attempt_at becomes its lease. One statement: it
# needs no transaction of its own.
_CLAIM = text(
    """
    WITH busy AS (
        SELECT * FROM unnest(CAST(:busy AS bigint[]), CAST(:taken AS int[]))
            AS b(endpoint_id, taken)
    ),
    ranked AS (
        SELECT id, endpoint_id, row_number() OVER (PARTITION BY endpoint_id ORDER BY id) AS rank
        FROM deliveries
        WHERE status = 'pending' AND next_attempt_at <= :now
          AND NOT (endpoint_id = ANY(CAST(:full AS bigint[])))
    ),
    locked AS (
        -- The picked rows are locked through the primary key: written plainly, the re-check
        -- below makes the planner scan the whole due index a second time (a hash join with
        -- every due row: most of a claim's cost with a backlog); IS TRUE keeps it off it.
        SELECT d.id FROM deliveries d
        WHERE d.id = ANY(ARRAY(
            SELECT r.id FROM ranked r LEFT JOIN busy b USING (endpoint_id)
            WHERE r.rank <= :per AND r.rank <= :per - coalesce(b.taken, 0)
            ORDER BY r.id LIMIT :limit
        ))
          AND (d.status = 'pending' AND d.next_attempt_at <= :now) IS TRUE
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE deliveries SET next_attempt_at = :lease
    FROM locked, endpoints e
    WHERE deliveries.id = locked.id AND e.id = deliveries.endpoint_id
    RETURNING deliveries.id, deliveries.tenant_id, deliveries.endpoint_id, deliveries.event_id,
        deliveries.payload, deliveries.attempts, e.url, e.status AS endpoint_status,
        e.secret_sealed, e.previous_secret_sealed, e.previous_secret_expires_at
    """
)


async def claim_due(
    conn: AsyncConnection,
    *,
    now: datetime,
    lease: datetime,
    limit: int,
    per: int,
    busy: dict[int, int],
) -> list[Claimed]:
    result = await conn.execute(
        _CLAIM,
        {
            "now": now,
            "lease": lease,
            "limit": limit,
            "per": per,
            "busy": list(busy),
            "taken": list(busy.values()),
            "full": [endpoint for endpoint, taken in busy.items() if taken >= per],
        },
    )
    return sorted(from_rows(Claimed, result.all()), key=lambda c: c.id)


@dataclass(frozen=True)
class Success:
    delivery_id: int
    endpoint_id: int
    number: int
    started_at: datetime
    status_code: int
    latency_ms: int
    response_body: str | None
    error: str | None


# A batch of successful attempts in one statement: each is logged, its delivery succeeds, and
# its endpoint's failing streak ends (no write when there was none).
_RECORD_SUCCESSES = text(
    """
    WITH done AS (
        SELECT * FROM unnest(
            CAST(:delivery_ids AS bigint[]), CAST(:numbers AS int[]),
            CAST(:started AS timestamptz[]), CAST(:codes AS int[]), CAST(:latencies AS int[]),
            CAST(:bodies AS text[]), CAST(:errors AS text[])
        ) AS t(delivery_id, number, started_at, status_code, latency_ms, response_body, error)
    ),
    logged AS (
        INSERT INTO attempts (delivery_id, number, started_at, status_code, latency_ms,
            response_body, error, succeeded)
        SELECT delivery_id, number, started_at, status_code, latency_ms, response_body, error,
            true
        FROM done
    ),
    cleared AS (
        UPDATE endpoints SET failing_since = NULL
        WHERE id = ANY(CAST(:endpoint_ids AS bigint[])) AND failing_since IS NOT NULL
    )
    UPDATE deliveries SET status = 'succeeded', attempts = done.number, next_attempt_at = NULL,
        delivered_at = :delivered_at, last_status_code = done.status_code,
        last_error = done.error
    FROM done
    WHERE deliveries.id = done.delivery_id
    """
)


async def record_successes(
    conn: AsyncConnection, successes: list[Success], *, delivered_at: datetime
) -> None:
    await conn.execute(
        _RECORD_SUCCESSES,
        {
            "delivery_ids": [s.delivery_id for s in successes],
            "numbers": [s.number for s in successes],
            "started": [s.started_at for s in successes],
            "codes": [s.status_code for s in successes],
            "latencies": [s.latency_ms for s in successes],
            "bodies": [s.response_body for s in successes],
            "errors": [s.error for s in successes],
            "endpoint_ids": sorted({s.endpoint_id for s in successes}),
            "delivered_at": delivered_at,
        },
    )


async def record_attempt(conn: AsyncConnection, delivery_id: int, **values: Any) -> None:
    await conn.execute(insert(attempts).values(delivery_id=delivery_id, **values))


async def finish_attempt(conn: AsyncConnection, delivery_id: int, **values: Any) -> None:
    await conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))


# ── owners (to tell when an endpoint is disabled) ───────────────────────────────────────────


async def remember_owner(conn: AsyncConnection, tenant_id: int, user_id: int, email: str) -> None:
    statement = pg_insert(tenant_owners).values(tenant_id=tenant_id, user_id=user_id, email=email)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "user_id"], set_={"email": statement.excluded.email}
        )
    )


async def forget_owner(conn: AsyncConnection, tenant_id: int, user_id: int) -> None:
    await conn.execute(
        tenant_owners.delete().where(
            tenant_owners.c.tenant_id == tenant_id, tenant_owners.c.user_id == user_id
        )
    )


async def owner_emails(conn: AsyncConnection, tenant_id: int) -> list[str]:
    query = select(tenant_owners.c.email).where(tenant_owners.c.tenant_id == tenant_id)
    return list((await conn.execute(query)).scalars())


async def count_pending(conn: AsyncConnection) -> int:
    return int(
        await conn.scalar(
            select(func.count()).select_from(deliveries).where(deliveries.c.status == "pending")
        )
        or 0
    )
