"""Inbox's tables as SQLAlchemy Core objects (the DDL lives in migrations/). Shared by every
store module of the service (messaging and catalogue alike)."""

from __future__ import annotations

from sqlalchemy import (
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

metadata = MetaData(schema="inbox")


def _stamp(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


phone_instances = Table(
    "phone_instances",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("instance_name", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("phone_number", Text),
    Column("profile_name", Text),
    Column("api_key", Text, nullable=False),
    Column("webhook_secret_hash", Text, nullable=False),
    Column("qr_code", Text),
    Column("qr_text", Text),
    _stamp("qr_updated_at", True),
    _stamp("connected_at", True),
    _stamp("disconnected_at", True),
    _stamp("created_at"),
    _stamp("updated_at"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("phone", Text, nullable=False),
    Column("name", Text),
    Column("notes", Text),
    _stamp("created_at"),
    _stamp("updated_at"),
)

labels = Table(
    "labels",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("color", Text),
    Column("position", Integer, nullable=False),
    _stamp("created_at"),
    _stamp("updated_at"),
)

sectors = Table(
    "sectors",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("position", Integer, nullable=False),
    _stamp("created_at"),
    _stamp("updated_at"),
)

sector_members = Table(
    "sector_members",
    metadata,
    Column("tenant_id", BigInteger, nullable=False),
    Column(
        "sector_id",
        BigInteger,
        ForeignKey("inbox.sectors.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", BigInteger, primary_key=True),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column(
        "phone_instance_id", BigInteger, ForeignKey("inbox.phone_instances.id", ondelete="SET NULL")
    ),
    Column("contact_id", BigInteger, ForeignKey("inbox.contacts.id", ondelete="SET NULL")),
    Column("contact_phone", Text, nullable=False),
    Column("contact_name", Text),
    Column("notes", Text),
    Column("status", Text, nullable=False),
    _stamp("snoozed_until", True),
    Column("handler", Text, nullable=False),
    Column("assigned_user_id", BigInteger),
    Column("sector_id", BigInteger, ForeignKey("inbox.sectors.id", ondelete="SET NULL")),
    Column("unread_count", Integer, nullable=False),
    Column("last_message_text", Text),
    Column("last_message_direction", Text),
    _stamp("first_inbound_at", True),
    _stamp("first_response_at", True),
    _stamp("last_inbound_at", True),
    _stamp("last_activity_at"),
    _stamp("closed_at", True),
    _stamp("created_at"),
    _stamp("updated_at"),
)

conversation_labels = Table(
    "conversation_labels",
    metadata,
    Column("tenant_id", BigInteger, nullable=False),
    Column(
        "conversation_id",
        BigInteger,
        ForeignKey("inbox.conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "label_id", BigInteger, ForeignKey("inbox.labels.id", ondelete="CASCADE"), primary_key=True
    ),
    _stamp("created_at"),
)

contact_labels = Table(
    "contact_labels",
    metadata,
    Column("tenant_id", BigInteger, nullable=False),
    Column(
        "contact_id",
        BigInteger,
        ForeignKey("inbox.contacts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "label_id", BigInteger, ForeignKey("inbox.labels.id", ondelete="CASCADE"), primary_key=True
    ),
    _stamp("created_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column(
        "conversation_id",
        BigInteger,
        ForeignKey("inbox.conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "phone_instance_id", BigInteger, ForeignKey("inbox.phone_instances.id", ondelete="SET NULL")
    ),
    Column("whatsapp_message_id", Text),
    Column("idempotency_key", Text),
    Column("direction", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("body", Text),
    Column("caption", Text),
    Column("media", JSONB),
    Column("quoted_message_id", BigInteger, ForeignKey("inbox.messages.id", ondelete="SET NULL")),
    Column("quoted_whatsapp_id", Text),
    Column("sender_kind", Text, nullable=False),
    Column("sender_user_id", BigInteger),
    Column("status", Text, nullable=False),
    Column("failure_reason", Text),
    Column("attempts", Integer, nullable=False),
    _stamp("sent_at"),
    _stamp("delivered_at", True),
    _stamp("read_at", True),
    _stamp("created_at"),
    _stamp("updated_at"),
    _stamp("handed_at", True),
)

tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("agent_restricted_to_own_conversations", Boolean, nullable=False),
    _stamp("updated_at"),
    Column("limits", JSONB),
    _stamp("limits_changed_at", True),
)

outbound_media = Table(
    "outbound_media",
    metadata,
    Column(
        "message_id",
        BigInteger,
        ForeignKey("inbox.messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tenant_id", BigInteger, nullable=False),
    Column("mediatype", Text, nullable=False),
    Column("mimetype", Text, nullable=False),
    Column("file_name", Text),
    Column("data", LargeBinary, nullable=False),
    _stamp("created_at"),
)

early_receipts = Table(
    "early_receipts",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("whatsapp_message_id", Text, primary_key=True),
    Column("status", Text, primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
