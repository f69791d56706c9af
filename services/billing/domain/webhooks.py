"""Stripe's webhook events, each processed once (its id recorded in the transaction of its
effect) and applied by the state the object itself carries, never by arrival order."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from services.billing.clients.stripe_api import StripeApi, metadata_of
from services.billing.domain import payments, subscriptions
from services.billing.domain.subscriptions import BillingConfig, stamp
from services.billing.store import payments as payment_store
from services.billing.store import subscriptions as store
from services.kit.db import Database, UnitOfWork

log = logging.getLogger("plixa.billing.webhooks")

SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "customer.subscription.paused",
        "customer.subscription.resumed",
    }
)
# A deposit's checkout: paid at once (card), paid later (boleto, Pix), or expired unpaid.
DEPOSIT_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.expired",
    }
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed", "invoice.payment_succeeded"})


def _object(event: dict[str, Any]) -> dict[str, Any]:
    obj = (event.get("data") or {}).get("object") or {}
    return obj if isinstance(obj, dict) else {}


def subscription_to_fetch(event: dict[str, Any]) -> str | None:
    """The subscription an event points at without carrying it (a completed checkout, an
    invoice): billing reads its current state from Stripe before applying the event."""
    obj = _object(event)
    kind = event.get("type")
    if kind == "checkout.session.completed" and obj.get("mode") == "subscription":
        value = obj.get("subscription")
    elif kind in INVOICE_EVENTS:
        parent = obj.get("parent") or {}
        details = parent.get("subscription_details") or {}
        value = details.get("subscription") or obj.get("subscription")
    else:
        return None
    if isinstance(value, dict):  # expanded
        value = value.get("id")
    return str(value) if value else None


async def handle(
    db: Database, stripe: StripeApi, config: BillingConfig, event: dict[str, Any]
) -> bool:
    """Applies one verified event; False when it was already processed (a redelivery)."""
    fetched: dict[str, Any] | None = None
    subscription_id = subscription_to_fetch(event)
    if subscription_id:
        fetched = await stripe.retrieve_subscription(subscription_id)
    created = stamp(event.get("created")) or datetime.now(UTC)
    async with db.unit_of_work() as uow:
        first = await store.record_event(
            uow, event_id=str(event["id"]), type_=str(event["type"]), created_at=created
        )
        if not first:
            return False
        tenant_id = await _apply(uow, config, event, created, fetched)
        if tenant_id is not None:
            await store.set_event_tenant(uow, str(event["id"]), tenant_id)
    return True


async def _apply(
    uow: UnitOfWork,
    config: BillingConfig,
    event: dict[str, Any],
    created: datetime,
    fetched: dict[str, Any] | None,
) -> int | None:
    kind = str(event["type"])
    obj = _object(event)
    if kind in SUBSCRIPTION_EVENTS:
        return await subscriptions.apply_snapshot(uow, config, obj, created)
    if kind in DEPOSIT_EVENTS and obj.get("mode") == "payment":
        if kind == "checkout.session.expired":
            return await payment_store.mark_expired(uow, str(obj.get("id") or ""))
        return await payments.deposit_completed(uow, obj, created)
    if kind == "checkout.session.completed":
        if fetched is not None:
            await _remember_customer(uow, obj)
            return await subscriptions.apply_snapshot(uow, config, fetched, created)
        return None
    if kind in INVOICE_EVENTS:
        if fetched is not None:
            return await subscriptions.apply_snapshot(uow, config, fetched, created)
        return None
    if kind == "account.updated":
        account_id = str(obj.get("id") or "")
        tenant_id = await payment_store.tenant_of_account(uow, account_id)
        if tenant_id is not None:
            await payment_store.update_account(
                uow,
                account_id,
                charges=bool(obj.get("charges_enabled")),
                payouts=bool(obj.get("payouts_enabled")),
                details=bool(obj.get("details_submitted")),
                described_at=created,
            )
        return tenant_id
    log.info("stripe event %s ignored", kind)
    return None


async def _remember_customer(uow: UnitOfWork, session: dict[str, Any]) -> None:
    """A completed checkout ties its customer to the workspace in client_reference_id."""
    reference = str(session.get("client_reference_id") or metadata_of(session).get("tenant_id", ""))
    customer = session.get("customer")
    if (
        reference.isdigit()
        and isinstance(customer, str)
        and customer
        and await store.tenant_of_customer(uow, customer) is None
    ):
        await store.add_customer(uow, int(reference), customer)
