"""SQL for Connect accounts and booking deposits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.billing.store.tables import connect_accounts, payments
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row


@dataclass(frozen=True)
class ConnectAccount:
    tenant_id: int
    account_id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool


@dataclass(frozen=True)
class Payment:
    id: int
    tenant_id: int
    appointment_id: int
    checkout_id: str
    account_id: str
    amount_cents: int
    currency: str
    application_fee_cents: int
    description: str
    url: str
    status: str
    created_at: datetime
    paid_at: datetime | None


PAYMENTS_ORDER = Keyset("billing.payments", id=payments.c.id, descending=True)


async def account_of(uow: UnitOfWork, tenant_id: int) -> ConnectAccount | None:
    query = select(connect_accounts).where(connect_accounts.c.tenant_id == tenant_id)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(ConnectAccount, row) if row else None


async def add_account(
    uow: UnitOfWork, tenant_id: int, account_id: str, *, charges: bool, payouts: bool, details: bool
) -> None:
    now = uow.clock.now()
    await uow.conn.execute(
        insert(connect_accounts)
        .values(
            tenant_id=tenant_id,
            account_id=account_id,
            charges_enabled=charges,
            payouts_enabled=payouts,
            details_submitted=details,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )


async def tenant_of_account(uow: UnitOfWork, account_id: str) -> int | None:
    query = select(connect_accounts.c.tenant_id).where(connect_accounts.c.account_id == account_id)
    return (await uow.conn.execute(query)).scalar_one_or_none()


async def update_account(
    uow: UnitOfWork,
    account_id: str,
    *,
    charges: bool,
    payouts: bool,
    details: bool,
    described_at: datetime,
) -> None:
    """Applies Stripe's description of the account unless a newer one was applied already."""
    stored_at = connect_accounts.c.stripe_updated_at
    await uow.conn.execute(
        connect_accounts.update()
        .where(
            connect_accounts.c.account_id == account_id,
            stored_at.is_(None) | (stored_at <= described_at),
        )
        .values(
            charges_enabled=charges,
            payouts_enabled=payouts,
            details_submitted=details,
            stripe_updated_at=described_at,
            updated_at=uow.clock.now(),
        )
    )


async def pending_for(
    uow: UnitOfWork, tenant_id: int, appointment_id: int, amount_cents: int, currency: str
) -> Payment | None:
    query = select(payments).where(
        payments.c.tenant_id == tenant_id,
        payments.c.appointment_id == appointment_id,
        payments.c.amount_cents == amount_cents,
        payments.c.currency == currency,
        payments.c.status == "pending",
    )
    row = (await uow.conn.execute(query.limit(1))).first()
    return from_row(Payment, row) if row else None


async def attempts_for(uow: UnitOfWork, tenant_id: int, appointment_id: int) -> int:
    """How many deposit checkouts the appointment had (a new one after an expiry is another)."""
    query = select(func.count()).where(
        payments.c.tenant_id == tenant_id, payments.c.appointment_id == appointment_id
    )
    return int((await uow.conn.execute(query)).scalar_one())


async def add_payment(uow: UnitOfWork, **values: object) -> Payment:
    row = (
        await uow.conn.execute(
            insert(payments)
            .values(**values, status="pending", created_at=uow.clock.now())
            .on_conflict_do_nothing(index_elements=["checkout_id"])
            .returning(payments)
        )
    ).first()
    if row is None:  # the same checkout recorded by a concurrent retry
        existing = select(payments).where(payments.c.checkout_id == values["checkout_id"])
        row = (await uow.conn.execute(existing)).one()
    return from_row(Payment, row)


async def mark_expired(uow: UnitOfWork, checkout_id: str) -> int | None:
    """A pending deposit's checkout expired unpaid; the workspace, or None."""
    row = (
        await uow.conn.execute(
            payments.update()
            .where(payments.c.checkout_id == checkout_id, payments.c.status == "pending")
            .values(status="expired")
            .returning(payments.c.tenant_id)
        )
    ).first()
    return int(row[0]) if row else None


async def mark_paid(
    uow: UnitOfWork, checkout_id: str, payment_intent_id: str | None, paid_at: datetime
) -> Payment | None:
    """Marks a pending deposit paid; None when unknown or already paid (so it is announced once)."""
    row = (
        await uow.conn.execute(
            payments.update()
            .where(payments.c.checkout_id == checkout_id, payments.c.status != "paid")
            .values(status="paid", payment_intent_id=payment_intent_id, paid_at=paid_at)
            .returning(payments)
        )
    ).first()
    return from_row(Payment, row) if row else None


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[Payment]:
    rows = await paginate(uow.conn, uow.scope.select(payments), PAYMENTS_ORDER, page)
    return rows.map(lambda row: from_row(Payment, row))
