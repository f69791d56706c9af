"""Subscriptions: checkout, the customer portal, what the workspace runs on, and Stripe's
subscription snapshots applied in any order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.billing.clients.stripe_api import StripeApi, metadata_of
from services.billing.domain import grants, plans
from services.billing.domain.entitlements import (
    Entitlements,
    current_subscription,
    snapshot_order,
)
from services.billing.store import licenses as license_store
from services.billing.store import subscriptions as store
from services.billing.store.subscriptions import StoredSubscription
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, conflict, invalid


@dataclass(frozen=True)
class BillingConfig:
    """What the use cases need from the settings."""

    price_ids: dict[tuple[str, str], str]
    grace: timedelta
    panel_url: str
    application_fee_bps: int = 0

    @property
    def plan_of_price(self) -> dict[str, tuple[str, str]]:
        return {price: key for key, price in self.price_ids.items()}


@dataclass(frozen=True)
class Checkout:
    url: str
    plan: str
    interval: str


@dataclass(frozen=True)
class SubscriptionView:
    plan: str
    status: str
    features: tuple[str, ...]
    limits: dict[str, int]
    interval: str | None = None
    trial_ends_at: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    grace_ends_at: datetime | None = None
    license_expires_at: datetime | None = None
    subscribed_plan: str | None = None


def subscription_exists() -> DomainError:
    return conflict(
        "SUBSCRIPTION_EXISTS",
        "This workspace already has a subscription: change or cancel it in the customer portal "
        "(POST /v1/billing/portal).",
    )


async def create_checkout(
    db: Database,
    stripe: StripeApi,
    config: BillingConfig,
    *,
    tenant_id: int,
    plan: str,
    interval: str,
) -> Checkout:
    interval = interval or "month"
    if plan not in plans.PAID_PLANS:
        raise invalid("plan", "Choose professional or business.", "in")
    if interval not in plans.INTERVALS:
        raise invalid("interval", "Choose month or year.", "in")
    async with db.reader() as uow:
        subscriptions = await store.of_tenant(uow, tenant_id)
        customer_id = await store.customer_of(uow, tenant_id)
    if any(s.live for s in subscriptions):
        raise subscription_exists()
    if customer_id is None:
        # Stripe answers the same customer to a retry or a concurrent call (idempotency key).
        created = await stripe.create_customer(tenant_id, f"Plixa workspace {tenant_id}")
        async with db.unit_of_work() as uow:
            await store.add_customer(uow, tenant_id, created)
            customer_id = await store.customer_of(uow, tenant_id)
        assert customer_id is not None
    # The free trial is for the workspace's first subscription only.
    trial_days = 0 if subscriptions else plans.plan(plan).trial_days
    session = await stripe.create_subscription_checkout(
        tenant_id=tenant_id,
        customer_id=customer_id,
        price_id=config.price_ids[(plan, interval)],
        plan=plan,
        interval=interval,
        trial_days=trial_days,
        success_url=f"{config.panel_url}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{config.panel_url}/billing?checkout=cancelled",
        idempotency_key=f"plixa-checkout-{tenant_id}-{uuid.uuid4().hex}",
    )
    return Checkout(session.url, plan, interval)


async def create_portal(
    db: Database, stripe: StripeApi, config: BillingConfig, *, tenant_id: int
) -> str:
    async with db.reader() as uow:
        customer_id = await store.customer_of(uow, tenant_id)
    if customer_id is None:
        raise conflict(
            "NO_BILLING_CUSTOMER",
            "This workspace has never subscribed: start with POST /v1/billing/checkout.",
        )
    return await stripe.create_portal_session(customer_id, f"{config.panel_url}/billing")


async def view(uow: UnitOfWork, tenant_id: int, grace: timedelta) -> SubscriptionView:
    """What the workspace runs on now (the entitlements function's answer) and the subscription
    behind it, if one is live."""
    granted: Entitlements = await grants.current(uow, tenant_id, grace)
    subscription = current_subscription(await store.of_tenant(uow, tenant_id))
    license = await license_store.latest(uow, tenant_id)
    live_license = license if license and license.status(uow.clock.now()) == "active" else None
    status = granted.status if subscription or live_license else "none"
    plain = SubscriptionView(
        plan=granted.plan,
        status=status,
        features=granted.features,
        limits=granted.limits,
        license_expires_at=live_license.expires_at if live_license else None,
    )
    if subscription is None or not subscription.live:
        return plain
    return replace(
        plain,
        interval=subscription.interval,
        trial_ends_at=subscription.trial_end,
        current_period_end=subscription.current_period_end,
        cancel_at_period_end=subscription.cancel_at_period_end,
        grace_ends_at=subscription.grace_ends_at(grace),
        subscribed_plan=subscription.plan,
    )


# ── Stripe's subscription snapshots ─────────────────────────────────────────────────────────


def stamp(value: Any) -> datetime | None:
    """A Stripe unix timestamp as an aware datetime."""
    if value is None or isinstance(value, bool):
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _period(subscription: dict[str, Any]) -> tuple[datetime | None, datetime | None, str]:
    """(current_period_start, current_period_end, price id) from the first item (Stripe moved
    the period onto items; older API versions keep it on the subscription)."""
    items = (subscription.get("items") or {}).get("data") or []
    item = items[0] if items else {}
    price = item.get("price") or {}
    start = item.get("current_period_start", subscription.get("current_period_start"))
    end = item.get("current_period_end", subscription.get("current_period_end"))
    return stamp(start), stamp(end), str(price.get("id") or "")


async def tenant_for(uow: UnitOfWork, customer_id: str, metadata: dict[str, str]) -> int | None:
    """Whose subscription this is: the customer we created for a workspace; else the tenant we
    put in the metadata (then the customer is remembered)."""
    tenant_id = await store.tenant_of_customer(uow, customer_id) if customer_id else None
    if tenant_id is not None:
        return tenant_id
    raw = metadata.get("tenant_id", "")
    if not raw.isdigit():
        return None
    tenant_id = int(raw)
    if customer_id:
        await store.add_customer(uow, tenant_id, customer_id)
    return tenant_id


async def apply_snapshot(
    uow: UnitOfWork, config: BillingConfig, subscription: dict[str, Any], snapshot_at: datetime
) -> int | None:
    """Stores Stripe's description of a subscription unless a newer one is stored (see
    `snapshot_order`), then recomputes the workspace's entitlements. Returns the workspace."""
    subscription_id = str(subscription.get("id") or "")
    customer_id = str(subscription.get("customer") or "")
    metadata = metadata_of(subscription)
    tenant_id = await tenant_for(uow, customer_id, metadata)
    if not subscription_id or tenant_id is None:
        return None
    await store.lock_tenant(uow, tenant_id)
    start, end, price_id = _period(subscription)
    plan, interval = config.plan_of_price.get(
        price_id, (metadata.get("plan", plans.STARTER), metadata.get("interval", "month"))
    )
    status = str(subscription.get("status") or "incomplete")
    stored = await store.get(uow, subscription_id, lock=True)
    if stored is None or snapshot_order(status, snapshot_at, end) >= snapshot_order(
        stored.status, stored.snapshot_at, stored.current_period_end
    ):
        await store.put_values(
            uow,
            {
                "id": subscription_id,
                "tenant_id": tenant_id,
                "customer_id": customer_id,
                "status": status,
                "plan": plans.plan(plan).key,
                "interval": interval,
                "price_id": price_id,
                "trial_end": stamp(subscription.get("trial_end")),
                "current_period_start": start,
                "current_period_end": end,
                "cancel_at_period_end": bool(subscription.get("cancel_at_period_end")),
                "canceled_at": stamp(subscription.get("canceled_at")),
                "stripe_created_at": stamp(subscription.get("created")) or snapshot_at,
                "snapshot_at": snapshot_at,
            },
        )
    await grants.refresh(uow, tenant_id, config.grace)
    return tenant_id


__all__ = ["StoredSubscription", "apply_snapshot", "create_checkout", "create_portal", "view"]
