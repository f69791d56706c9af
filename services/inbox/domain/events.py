"""How inbox announces its changes: every event carries the full new state."""

from __future__ import annotations

from plixa.inbox.v1 import events_pb2
from services.inbox.domain.models import (
    ContactRow,
    ConversationRow,
    InstanceRow,
    MessageRow,
    changed_fields,
    contact_proto,
    conversation_proto,
    instance_proto,
    message_proto,
)
from services.kit.db import Work


def conversation_created(uow: Work, row: ConversationRow, reason: str) -> None:
    uow.emit(
        "inbox.conversation.created",
        events_pb2.ConversationChanged(
            tenant_id=row.tenant_id, conversation=conversation_proto(row), reason=reason
        ),
        tenant_id=row.tenant_id,
    )


def conversation_updated(
    uow: Work,
    before: ConversationRow,
    after: ConversationRow,
    reason: str,
    actor_user_id: int | None = None,
    handler_reason: str | None = None,
) -> list[str]:
    """Emits inbox.conversation.updated when something changed; returns the changed names."""
    changed = changed_fields(before, after)
    if changed:
        uow.emit(
            "inbox.conversation.updated",
            events_pb2.ConversationChanged(
                tenant_id=after.tenant_id,
                conversation=conversation_proto(after),
                changed=changed,
                reason=reason,
                actor_user_id=actor_user_id,
                handler_reason=handler_reason,
            ),
            tenant_id=after.tenant_id,
        )
    return changed


def conversation_deleted(
    uow: Work, row: ConversationRow, reason: str, actor_user_id: int | None = None
) -> None:
    uow.emit(
        "inbox.conversation.deleted",
        events_pb2.ConversationChanged(
            tenant_id=row.tenant_id,
            conversation=conversation_proto(row),
            reason=reason,
            actor_user_id=actor_user_id,
        ),
        tenant_id=row.tenant_id,
    )


def message_stored(
    uow: Work, conversation: ConversationRow, message: MessageRow, created: bool = False
) -> None:
    subject = (
        "inbox.message.inbound" if message.direction == "inbound" else "inbox.message.outbound"
    )
    uow.emit(subject, message_event(conversation, message, created), tenant_id=message.tenant_id)


def message_status_changed(uow: Work, conversation: ConversationRow, message: MessageRow) -> None:
    uow.emit(
        "inbox.message.status_changed",
        message_event(conversation, message),
        tenant_id=message.tenant_id,
    )


def message_event(
    conversation: ConversationRow, message: MessageRow, created: bool = False
) -> events_pb2.MessageEvent:
    return events_pb2.MessageEvent(
        tenant_id=message.tenant_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        contact_phone=conversation.contact_phone,
        contact_name=conversation.contact_name,
        phone_instance_id=message.phone_instance_id,
        message=message_proto(message),
        conversation_created=created,
    )


def contact_created(uow: Work, row: ContactRow) -> None:
    uow.emit(
        "inbox.contact.created",
        events_pb2.ContactChanged(tenant_id=row.tenant_id, contact=contact_proto(row)),
        tenant_id=row.tenant_id,
    )


def instance_changed(uow: Work, row: InstanceRow, connected: bool, reason: str) -> None:
    subject = "inbox.phone_instance.connected" if connected else "inbox.phone_instance.disconnected"
    uow.emit(
        subject,
        events_pb2.PhoneInstanceChanged(
            tenant_id=row.tenant_id,
            phone_instance=instance_proto(row, with_qr=False),
            reason=reason,
        ),
        tenant_id=row.tenant_id,
    )
