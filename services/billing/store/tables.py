"""Billing's tables as SQLAlchemy Core objects (the DDL lives in migrations/)."""

from __future__ import annotations

from sqlalchemy import ARRAY, BigInteger, Boolean, Column, DateTime, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="billing")


def _at(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


customers = Table(
    "customers",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("stripe_customer_id", Text, nullable=False),
    _at("created_at"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("interval", Text, nullable=False),
    Column("price_id", Text, nullable=False),
    _at("trial_end", True),
    _at("current_period_end", True),
    Column("cancel_at_period_end", Boolean, nullable=False),
    _at("canceled_at", True),
    _at("stripe_created_at"),
    _at("snapshot_at"),
    _at("current_period_start", True),
    _at("updated_at"),
)

stripe_events = Table(
    "stripe_events",
    metadata,
    Column("id", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("tenant_id", BigInteger),
    _at("created_at"),
    _at("received_at"),
)

entitlements = Table(
    "entitlements",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("plan", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("features", ARRAY(Text), nullable=False),
    Column("limits", JSONB, nullable=False),
    _at("changed_at"),
    _at("review_at", True),
)

licenses = Table(
    "licenses",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("plan", Text, nullable=False),
    _at("starts_at"),
    _at("expires_at"),
    _at("revoked_at", True),
    Column("granted_by_staff_id", BigInteger, nullable=False),
    Column("revoked_by_staff_id", BigInteger),
    _at("created_at"),
)

connect_accounts = Table(
    "connect_accounts",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("account_id", Text, nullable=False),
    Column("charges_enabled", Boolean, nullable=False),
    Column("payouts_enabled", Boolean, nullable=False),
    Column("details_submitted", Boolean, nullable=False),
    _at("stripe_updated_at", True),
    _at("created_at"),
    _at("updated_at"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("appointment_id", BigInteger, nullable=False),
    Column("checkout_id", Text, nullable=False),
    Column("account_id", Text, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("application_fee_cents", BigInteger, nullable=False),
    Column("description", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("payment_intent_id", Text),
    _at("created_at"),
    _at("paid_at", True),
)
