"""Identity's tables as SQLAlchemy Core objects (the DDL lives in migrations/)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    CHAR,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="identity")

tenants = Table(
    "tenants",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("slug", Text, nullable=False),
    Column("country_code", CHAR(2), nullable=False),
    Column("tax_id", Text),
    Column("timezone", Text, nullable=False),
    Column("locale", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("require_two_factor", Boolean, nullable=False),
    Column("agent_restricted_to_own_conversations", Boolean, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("logo_key", Text),
    Column("onboarding_dismissed_at", DateTime(timezone=True)),
)

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, ForeignKey("identity.tenants.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("locale", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("two_factor_secret", Text),
    Column("two_factor_enabled_at", DateTime(timezone=True)),
    Column("two_factor_last_step", BigInteger),
    Column("is_available", Boolean, nullable=False),
    Column("last_heartbeat_at", DateTime(timezone=True)),
    Column("announced_status", Text, nullable=False),
    Column("deletion_requested_at", DateTime(timezone=True)),
    Column("deletion_scheduled_for", DateTime(timezone=True)),
    Column("is_founder", Boolean, nullable=False),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("identity.users.id")),
    Column("staff_id", BigInteger, ForeignKey("identity.staff.id")),
    Column("code_hash", LargeBinary, nullable=False),
    Column("legacy_sha256", Boolean, nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

staff = Table(
    "staff",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("two_factor_secret", Text),
    Column("two_factor_enabled_at", DateTime(timezone=True)),
    Column("two_factor_last_step", BigInteger),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("tenant_id", BigInteger),
    Column("user_id", BigInteger),
    Column("staff_id", BigInteger),
    Column("name", Text, nullable=False),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("abilities", ARRAY(Text), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

entitlements = Table(
    "entitlements",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("plan", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("features", ARRAY(Text), nullable=False),
    Column("limits", JSONB, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("email", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("token_hash", LargeBinary, nullable=False),
    Column("token_sealed", Text, nullable=False),
    Column("invited_by", BigInteger),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),
    Column("accepted_user_id", BigInteger),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

login_failures = Table(  # the two-factor challenge's throttle
    "login_failures",
    metadata,
    Column("subject", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
)

sign_in_attempts_by_address = Table(
    "sign_in_attempts_by_address",
    metadata,
    Column("kind", Text, primary_key=True),
    Column("email", Text, primary_key=True),
    Column("address", Text, primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("window_started_at", DateTime(timezone=True), nullable=False),
    Column("succeeded_at", DateTime(timezone=True)),
)

sign_in_attempts_by_email = Table(
    "sign_in_attempts_by_email",
    metadata,
    Column("kind", Text, primary_key=True),
    Column("email", Text, primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("last_attempt_at", DateTime(timezone=True), nullable=False),
    Column("next_allowed_at", DateTime(timezone=True), nullable=False),
)
