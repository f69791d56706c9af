"""Inbox's rows as typed values, and their protobuf forms (API answers and events alike)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plixa.inbox.v1 import inbox_pb2
from services.kit.protos import to_proto

CONVERSATION_STATUSES = ("open", "closed")
HANDLERS = ("none", "human", "ai", "flow")
BOT_SENDERS = ("ai", "flow", "system")


@dataclass
class ConversationRow:
    id: int
    tenant_id: int
    phone_instance_id: int | None
    contact_id: int | None
    contact_phone: str
    contact_name: str | None
    notes: str | None
    status: str
    snoozed_until: datetime | None
    handler: str
    assigned_user_id: int | None
    sector_id: int | None
    unread_count: int
    last_message_text: str | None
    last_message_direction: str | None
    first_inbound_at: datetime | None
    first_response_at: datetime | None
    last_inbound_at: datetime | None
    last_activity_at: datetime
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    label_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ConversationState:
    """What a new message leaves on its conversation: every column the inbound rules touch
    (services/inbox/domain/inbound.py `next_state`)."""

    last_activity_at: datetime
    last_message_text: str | None
    last_message_direction: str | None
    first_response_at: datetime | None
    handler: str
    unread_count: int
    first_inbound_at: datetime | None
    last_inbound_at: datetime | None
    contact_name: str | None
    status: str
    closed_at: datetime | None
    snoozed_until: datetime | None


@dataclass
class MessageRow:
    id: int
    tenant_id: int
    conversation_id: int
    phone_instance_id: int | None
    whatsapp_message_id: str | None
    idempotency_key: str | None
    direction: str
    type: str
    body: str | None
    caption: str | None
    media: dict[str, Any] | None
    quoted_message_id: int | None
    quoted_whatsapp_id: str | None
    sender_kind: str
    sender_user_id: int | None
    status: str
    failure_reason: str | None
    attempts: int
    sent_at: datetime
    delivered_at: datetime | None
    read_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass
class InstanceRow:
    id: int
    tenant_id: int
    name: str
    instance_name: str
    status: str
    phone_number: str | None
    profile_name: str | None
    api_key: str
    webhook_secret_hash: str
    qr_code: str | None
    qr_text: str | None
    qr_updated_at: datetime | None
    connected_at: datetime | None
    disconnected_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass
class ContactRow:
    id: int
    tenant_id: int
    phone: str
    name: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    label_ids: list[int] = field(default_factory=list)


CONVERSATION_FIELDS = tuple(inbox_pb2.Conversation.DESCRIPTOR.fields_by_name)
MEDIA_FIELDS = frozenset(inbox_pb2.MessageMedia.DESCRIPTOR.fields_by_name)


def conversation_proto(row: ConversationRow) -> inbox_pb2.Conversation:
    return to_proto(row, inbox_pb2.Conversation)


def media_proto(media: dict[str, Any] | None) -> inbox_pb2.MessageMedia | None:
    if not media:
        return None
    return inbox_pb2.MessageMedia(**{k: v for k, v in media.items() if k in MEDIA_FIELDS})


def message_proto(row: MessageRow) -> inbox_pb2.Message:
    return to_proto(row, inbox_pb2.Message, media=media_proto(row.media))


def instance_proto(row: InstanceRow, with_qr: bool = True) -> inbox_pb2.PhoneInstance:
    show = with_qr and row.status == "pending_qr"
    return to_proto(
        row,
        inbox_pb2.PhoneInstance,
        qr_code=row.qr_code if show else None,
        qr_text=row.qr_text if show else None,
        qr_updated_at=row.qr_updated_at if show else None,
    )


def contact_proto(row: ContactRow) -> inbox_pb2.ContactState:
    return to_proto(row, inbox_pb2.ContactState)


def changed_fields(before: ConversationRow, after: ConversationRow) -> list[str]:
    """The Conversation field names whose values differ (updated_at aside)."""
    return [
        name
        for name in CONVERSATION_FIELDS
        if name != "updated_at" and getattr(before, name, None) != getattr(after, name, None)
    ]
