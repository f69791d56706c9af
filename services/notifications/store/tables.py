"""Notifications's tables as SQLAlchemy Core objects (the DDL lives in migrations/)."""

from __future__ import annotations

from sqlalchemy import ARRAY, BigInteger, Boolean, Column, DateTime, Integer, MetaData, Table, Text

metadata = MetaData(schema="notifications")

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("url", Text, nullable=False),
    Column("description", Text),
    Column("events", ARRAY(Text), nullable=False),
    Column("secret_sealed", Text, nullable=False),
    Column("previous_secret_sealed", Text),
    Column("previous_secret_expires_at", DateTime(timezone=True)),
    Column("status", Text, nullable=False),
    Column("disabled_reason", Text),
    Column("disabled_at", DateTime(timezone=True)),
    Column("failing_since", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("endpoint_id", BigInteger, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("delivery_id", BigInteger, nullable=False),
    Column("number", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("response_body", Text),
    Column("error", Text),
    Column("succeeded", Boolean, nullable=False),
)

tenant_owners = Table(
    "tenant_owners",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("email", Text, nullable=False),
)
