"""Booking deposits through Stripe Connect (Express accounts, destination charges)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc

from plixa.billing.v1 import events_pb2
from services.billing.clients.stripe_api import StripeApi, metadata_of
from services.billing.domain.subscriptions import BillingConfig
from services.billing.store import payments as store
from services.billing.store.payments import Payment
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, FieldProblem, conflict, validation_failed

DEPOSIT_PAID = "billing.deposit.paid"


@dataclass(frozen=True)
class Connection:
    url: str
    account_id: str
    onboarding_complete: bool
    charges_enabled: bool


def not_connected(grpc_status: grpc.StatusCode = grpc.StatusCode.ALREADY_EXISTS) -> DomainError:
    return DomainError(
        "PAYMENTS_NOT_CONNECTED",
        "Connect a Stripe account first (POST /v1/payments/connect).",
        409,
        grpc_status,
    )


async def connect(
    db: Database, stripe: StripeApi, config: BillingConfig, *, tenant_id: int
) -> Connection:
    """Creates the workspace's Express account once (Stripe answers a concurrent or retried
    create with the same account: idempotency key) and answers its onboarding link."""
    async with db.reader() as uow:
        account = await store.account_of(uow, tenant_id)
    if account is None:
        created = await stripe.create_express_account(tenant_id)
        async with db.unit_of_work() as uow:
            await store.add_account(
                uow,
                tenant_id,
                str(created["id"]),
                charges=bool(created.get("charges_enabled")),
                payouts=bool(created.get("payouts_enabled")),
                details=bool(created.get("details_submitted")),
            )
            account = await store.account_of(uow, tenant_id)
        assert account is not None
    url = ""
    if not account.details_submitted:
        url = await stripe.create_onboarding_link(
            account.account_id,
            refresh_url=f"{config.panel_url}/payments?onboarding=refresh",
            return_url=f"{config.panel_url}/payments?onboarding=done",
        )
    return Connection(url, account.account_id, account.details_submitted, account.charges_enabled)


async def dashboard_link(db: Database, stripe: StripeApi, *, tenant_id: int) -> str:
    async with db.reader() as uow:
        account = await store.account_of(uow, tenant_id)
    if account is None:
        raise not_connected()
    if not account.details_submitted:
        raise conflict(
            "PAYMENTS_ONBOARDING_INCOMPLETE",
            "Finish Stripe's onboarding first (POST /v1/payments/connect answers its link).",
        )
    return await stripe.create_login_link(account.account_id)


async def create_deposit_checkout(
    db: Database,
    stripe: StripeApi,
    config: BillingConfig,
    *,
    tenant_id: int,
    appointment_id: int,
    amount_cents: int,
    currency: str,
    description: str,
) -> Payment:
    problems = []
    if tenant_id <= 0:
        problems.append(FieldProblem("tenant_id", "A workspace is required.", "required"))
    if appointment_id <= 0:
        problems.append(FieldProblem("appointment_id", "An appointment is required.", "required"))
    if not 100 <= amount_cents <= 100_000_000:
        problems.append(FieldProblem("amount_cents", "Between 100 and 100000000.", "between"))
    currency = currency.strip().lower()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        problems.append(FieldProblem("currency", "An ISO 4217 code, e.g. BRL.", "format"))
    description = description.strip()[:200] or "Booking deposit"
    if problems:
        raise validation_failed(problems)
    async with db.reader() as uow:
        account = await store.account_of(uow, tenant_id)
        pending = await store.pending_for(uow, tenant_id, appointment_id, amount_cents, currency)
        attempt = await store.attempts_for(uow, tenant_id, appointment_id)
    if pending is not None:
        return pending
    if account is None or not account.charges_enabled:
        raise not_connected(grpc.StatusCode.FAILED_PRECONDITION)
    fee = amount_cents * config.application_fee_bps // 10_000
    session = await stripe.create_deposit_checkout(
        tenant_id=tenant_id,
        appointment_id=appointment_id,
        account_id=account.account_id,
        amount_cents=amount_cents,
        currency=currency,
        description=description,
        application_fee_cents=fee,
        success_url=f"{config.panel_url}/deposits/thanks",
        cancel_url=f"{config.panel_url}/deposits/cancelled",
        idempotency_key=(
            f"plixa-deposit-{tenant_id}-{appointment_id}-{amount_cents}-{currency}-{attempt}"
        ),
    )
    async with db.unit_of_work() as uow:
        return await store.add_payment(
            uow,
            tenant_id=tenant_id,
            appointment_id=appointment_id,
            checkout_id=session.id,
            account_id=account.account_id,
            amount_cents=amount_cents,
            currency=currency,
            application_fee_cents=fee,
            description=description,
            url=session.url,
        )


async def deposit_completed(
    uow: UnitOfWork, session: dict[str, Any], created: datetime
) -> int | None:
    """A deposit's checkout completed: once paid, the deposit is marked and announced once."""
    if metadata_of(session).get("kind") != "deposit" or session.get("payment_status") != "paid":
        return None
    intent = session.get("payment_intent")
    payment = await store.mark_paid(
        uow, str(session.get("id") or ""), str(intent) if intent else None, created
    )
    if payment is None:
        return None
    event = events_pb2.DepositPaid(
        tenant_id=payment.tenant_id,
        appointment_id=payment.appointment_id,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
        payment_id=payment.id,
        checkout_id=payment.checkout_id,
    )
    event.paid_at.FromDatetime(created)
    uow.emit(DEPOSIT_PAID, event, tenant_id=payment.tenant_id)
    return payment.tenant_id
