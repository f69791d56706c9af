"""Scheduling's tables as SQLAlchemy Core objects (the DDL lives in migrations/)."""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData(schema="scheduling")
TS = DateTime(timezone=True)

services = Table(
    "services",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("buffer_before_minutes", Integer, nullable=False),
    Column("buffer_after_minutes", Integer, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("deposit_cents", BigInteger, nullable=False),
    Column("requires_approval", Boolean, nullable=False),
    Column("provider_ids", ARRAY(BigInteger), nullable=False),
    Column("resource_ids", ARRAY(BigInteger), nullable=False),
    Column("reminder_offsets", ARRAY(Integer)),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

resources = Table(
    "resources",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

provider_schedules = Table(
    "provider_schedules",
    metadata,
    Column("provider_id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("rules", JSONB, nullable=False),
    Column("updated_at", TS, nullable=False),
)

default_schedules = Table(
    "default_schedules",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("timezone", Text, nullable=False),
    Column("rules", JSONB, nullable=False),
    Column("updated_at", TS, nullable=False),
)

closures = Table(
    "closures",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("day", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("created_at", TS, nullable=False),
)

holiday_configs = Table(
    "holiday_configs",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("block_holidays", Boolean, nullable=False),
    Column("country_code", CHAR(2), nullable=False),
    Column("synced", Boolean, nullable=False),
    Column("synced_at", TS),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS),
    Column("updated_at", TS, nullable=False),
)

reminder_configs = Table(
    "reminder_configs",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("offsets", ARRAY(Integer)),
    Column("updated_at", TS, nullable=False),
)

calendar_filters = Table(
    "calendar_filters",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("provider_ids", ARRAY(BigInteger), nullable=False),
    Column("service_ids", ARRAY(BigInteger), nullable=False),
    Column("statuses", ARRAY(Text), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("service_id", BigInteger, nullable=False),
    Column("provider_id", BigInteger, nullable=False),
    Column("contact_id", BigInteger),
    Column("resource_ids", ARRAY(BigInteger), nullable=False),
    Column("start_at", TS, nullable=False),
    Column("end_at", TS, nullable=False),
    Column("block_start", TS, nullable=False),
    Column("block_end", TS, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("notes", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("series_id", BigInteger),
    Column("cancel_reason", Text),
    Column("deposit_cents", BigInteger, nullable=False),
    Column("deposit_status", Text, nullable=False),
    Column("payment_url", Text),
    Column("checkout_id", Text),
    Column("google_event_id", Text),
    Column("created_by_user_id", BigInteger),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("appointment_id", BigInteger, nullable=False),
    Column("offset_minutes", Integer, nullable=False),
    Column("due_at", TS, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("sent_at", TS),
    Column("last_error", Text),
)

waitlist = Table(
    "waitlist",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("service_id", BigInteger, nullable=False),
    Column("provider_id", BigInteger),
    Column("contact_id", BigInteger),
    Column("phone", Text, nullable=False),
    Column("notes", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("offered_at", TS),
    Column("offered_appointment_id", BigInteger),
    Column("created_at", TS, nullable=False),
)

waitlist_offers = Table(
    "waitlist_offers",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("entry_id", BigInteger, nullable=False),
    Column("appointment_id", BigInteger, nullable=False),
    Column("text", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("sent_at", TS),
    Column("last_error", Text),
)

google_links = Table(
    "google_links",
    metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("email", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("refresh_token_sealed", Text, nullable=False),
    Column("access_token_sealed", Text),
    Column("access_expires_at", TS),
    Column("error", Text),
    Column("connected_at", TS, nullable=False),
    Column("busy_synced_at", TS),
)

google_oauth_states = Table(
    "google_oauth_states",
    metadata,
    Column("state_hash", LargeBinary, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("expires_at", TS, nullable=False),
)

busy_intervals = Table(
    "busy_intervals",
    metadata,
    Column("provider_id", BigInteger, nullable=False),
    Column("tenant_id", BigInteger, nullable=False),
    Column("start_at", TS, nullable=False),
    Column("end_at", TS, nullable=False),
)
