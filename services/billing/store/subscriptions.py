"""SQL for Stripe customers, subscriptions, processed events and the per-workspace lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from services.billing.domain.entitlements import SubscriptionState
from services.billing.store.tables import customers, stripe_events, subscriptions
from services.kit.db import UnitOfWork
from services.kit.rows import from_row, from_rows

# pg_advisory_xact_lock(int, int): the first key names billing's per-workspace lock.
_TENANT_LOCK_CLASS = 0x62696C6C  # "bill"


async def lock_tenant(uow: UnitOfWork, tenant_id: int) -> None:
    """Serialises billing's changes of one workspace until the transaction ends, so concurrent
    webhooks, checkouts and jobs compute its entitlements one at a time."""
    await uow.conn.execute(
        text("SELECT pg_advisory_xact_lock(:k, (:t)::bigint::int)"),
        {"k": _TENANT_LOCK_CLASS, "t": tenant_id % 2_147_483_647},
    )


async def record_event(uow: UnitOfWork, *, event_id: str, type_: str, created_at: datetime) -> bool:
    """True the first time an event id is seen; a concurrent duplicate waits for the first's
    transaction and then answers False."""
    statement = (
        insert(stripe_events)
        .values(id=event_id, type=type_, created_at=created_at, received_at=uow.clock.now())
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(stripe_events.c.id)
    )
    return (await uow.conn.execute(statement)).first() is not None


async def set_event_tenant(uow: UnitOfWork, event_id: str, tenant_id: int) -> None:
    await uow.conn.execute(
        stripe_events.update().where(stripe_events.c.id == event_id).values(tenant_id=tenant_id)
    )


# ── customers ───────────────────────────────────────────────────────────────────────────────


async def customer_of(uow: UnitOfWork, tenant_id: int) -> str | None:
    query = select(customers.c.stripe_customer_id).where(customers.c.tenant_id == tenant_id)
    return (await uow.conn.execute(query)).scalar_one_or_none()


async def tenant_of_customer(uow: UnitOfWork, customer_id: str) -> int | None:
    query = select(customers.c.tenant_id).where(customers.c.stripe_customer_id == customer_id)
    return (await uow.conn.execute(query)).scalar_one_or_none()


async def add_customer(uow: UnitOfWork, tenant_id: int, customer_id: str) -> None:
    await uow.conn.execute(
        insert(customers)
        .values(tenant_id=tenant_id, stripe_customer_id=customer_id, created_at=uow.clock.now())
        .on_conflict_do_nothing()
    )


# ── subscriptions ───────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class StoredSubscription(SubscriptionState):
    tenant_id: int = 0
    customer_id: str = ""


async def get(
    uow: UnitOfWork, subscription_id: str, lock: bool = False
) -> StoredSubscription | None:
    query = select(subscriptions).where(subscriptions.c.id == subscription_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(StoredSubscription, row) if row else None


async def of_tenant(uow: UnitOfWork, tenant_id: int) -> list[StoredSubscription]:
    query = (
        select(subscriptions)
        .where(subscriptions.c.tenant_id == tenant_id)
        .order_by(subscriptions.c.stripe_created_at.desc())
    )
    return from_rows(StoredSubscription, (await uow.conn.execute(query)).all())


async def any_for_tenant(uow: UnitOfWork, tenant_id: int) -> bool:
    query = select(subscriptions.c.id).where(subscriptions.c.tenant_id == tenant_id).limit(1)
    return (await uow.conn.execute(query)).first() is not None


async def put_values(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await _upsert(uow, {**values, "updated_at": uow.clock.now()})


async def _upsert(uow: UnitOfWork, values: dict[str, Any]) -> None:
    statement = insert(subscriptions).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["id"],
        set_={k: statement.excluded[k] for k in values if k != "id"},
    )
    await uow.conn.execute(statement)
