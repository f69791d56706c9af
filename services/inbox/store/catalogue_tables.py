"""The catalogue's own tables (migrations/0020_catalogue.sql) as SQLAlchemy Core objects."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, Table, Text

# One MetaData with inbox core's tables (store/tables.py), so the foreign keys resolve.
from services.inbox.store.tables import metadata

custom_field_definitions = Table(
    "custom_field_definitions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

custom_field_values = Table(
    "custom_field_values",
    metadata,
    Column("tenant_id", BigInteger, nullable=False),
    Column("contact_id", BigInteger, ForeignKey("inbox.contacts.id"), primary_key=True),
    Column(
        "definition_id",
        BigInteger,
        ForeignKey("inbox.custom_field_definitions.id"),
        primary_key=True,
    ),
    Column("value", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

saved_replies = Table(
    "saved_replies",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("label", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
