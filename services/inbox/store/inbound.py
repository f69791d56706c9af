"""SQL of the inbound hot path: every customer message runs it, so it is plain SQL through the
kit's fastsql (services/kit/fastsql.py) on the unit of work's connection and transaction,
each statement prepared once per connection, and a message costs two statements:

1. the contact and the conversation in one statement (data-modifying CTEs): a known pair is
   read and locked (the conversation FOR UPDATE till the commit), a missing one inserted with
   ON CONFLICT on its unique key, a new conversation with its state after the message;
2. the message, inserted idempotently on its WhatsApp id, with (for a known conversation) the
   conversation's new state, written only when the message was new.

The rules (what a new message changes on its conversation) stay in the domain
(services/inbox/domain/inbound.py); the second statement writes what the domain computed."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from services.inbox.domain.models import (
    ContactRow,
    ConversationRow,
    ConversationState,
    InstanceRow,
    MessageRow,
)
from services.kit import fastsql
from services.kit.db import UnitOfWork

_CONTACT_FIELDS = tuple(f.name for f in dataclasses.fields(ContactRow) if f.name != "label_ids")
_CONTACT_WIDTH = len(_CONTACT_FIELDS)
_MESSAGE_WIDTH = fastsql.width(MessageRow)
_LABEL_IDS = (
    "coalesce(ARRAY(SELECT cl.label_id FROM conversation_labels cl"
    " WHERE cl.conversation_id = conversations.id ORDER BY cl.label_id), '{}') AS label_ids"
)

INSTANCE = (
    f"SELECT {fastsql.select_list(InstanceRow, 'p')} FROM phone_instances p"
    " WHERE p.instance_name = $1"
)

_CONTACT_LIST = ", ".join(_CONTACT_FIELDS)
_CONVERSATION_LIST = ", ".join(
    f.name for f in dataclasses.fields(ConversationRow) if f.name != "label_ids"
)

# A known customer's contact and conversation are read and locked, not rewritten (an upsert's
# DO UPDATE writes a new row version, and a conversation's every index entry with it);
# missing ones are inserted, a new conversation with its state after the message already, so
# no UPDATE follows. The inserts keep ON CONFLICT: two first messages of a new customer at
# once still make one contact and one conversation (the loser's upsert returns the winner's).
# $1 tenant, $2 number, $3 phone, $4 push name (None for our own sends), $5 now; a new
# conversation's state: $6 last_activity_at, $7 last_message_text, $8 last_message_direction,
# $9 first_inbound_at, $10 last_inbound_at, $11 first_response_at, $12 handler,
# $13 unread_count.
CONTACT_AND_CONVERSATION = f"""
WITH found_ct AS (
    SELECT {_CONTACT_LIST} FROM contacts WHERE tenant_id = $1 AND phone = $3 FOR KEY SHARE
), named_ct AS (
    UPDATE contacts SET name = $4, updated_at = $5 FROM found_ct
    WHERE contacts.id = found_ct.id AND found_ct.name IS NULL AND $4::text IS NOT NULL
    RETURNING {", ".join(f"contacts.{name}" for name in _CONTACT_FIELDS)}
), new_ct AS (
    INSERT INTO contacts (tenant_id, phone, name, created_at, updated_at)
    SELECT $1, $3, $4, $5, $5 WHERE NOT EXISTS (SELECT FROM found_ct)
    ON CONFLICT (tenant_id, phone) DO UPDATE SET
        name = coalesce(contacts.name, EXCLUDED.name),
        updated_at = CASE WHEN contacts.name IS NULL AND EXCLUDED.name IS NOT NULL
            THEN EXCLUDED.updated_at ELSE contacts.updated_at END
    RETURNING {_CONTACT_LIST}, (xmax = 0) AS created
), ct AS (
    SELECT *, false AS created FROM named_ct
    UNION ALL SELECT *, false FROM found_ct WHERE NOT EXISTS (SELECT FROM named_ct)
    UNION ALL SELECT * FROM new_ct
), found_cv AS (
    SELECT {_CONVERSATION_LIST} FROM conversations
    WHERE tenant_id = $1 AND phone_instance_id = $2 AND contact_phone = $3 FOR UPDATE
), new_cv AS (
    INSERT INTO conversations (tenant_id, phone_instance_id, contact_id, contact_phone,
        contact_name, status, handler, unread_count, last_message_text, last_message_direction,
        first_inbound_at, first_response_at, last_inbound_at, last_activity_at, created_at,
        updated_at)
    SELECT $1, $2, ct.id, $3, coalesce($4, ct.name), 'open', $12, $13, $7, $8, $9, $11, $10,
        $6, $5, $5
    FROM ct WHERE NOT EXISTS (SELECT FROM found_cv)
    ON CONFLICT (tenant_id, phone_instance_id, contact_phone) DO UPDATE SET
        contact_id = coalesce(conversations.contact_id, EXCLUDED.contact_id)
    RETURNING {_CONVERSATION_LIST}, (xmax = 0) AS created
), cv AS (
    SELECT *, false AS created FROM found_cv UNION ALL SELECT * FROM new_cv
)
SELECT {", ".join(f"ct.{name}" for name in _CONTACT_FIELDS)}, ct.created,
    {", ".join(f"cv.{name}" for name in _CONVERSATION_LIST.split(", "))},
    {_LABEL_IDS.replace("conversations.id", "cv.id")}, cv.created
FROM ct, cv"""

_INSERT_MESSAGE = """
    INSERT INTO messages (tenant_id, conversation_id, phone_instance_id, whatsapp_message_id,
        direction, type, body, caption, media, quoted_message_id, quoted_whatsapp_id,
        sender_kind, status, attempts, sent_at, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
        (SELECT q.id FROM messages q WHERE q.tenant_id = $1 AND q.whatsapp_message_id = $10),
        $10, $11, $12, 0, $13, $14, $14)
    ON CONFLICT DO NOTHING"""

# The message ($1–$14) into a conversation this transaction created with its state.
INSERT_MESSAGE = f"{_INSERT_MESSAGE}\nRETURNING {fastsql.select_list(MessageRow, 'messages')}"

# The message ($1–$14), then the conversation's state after it ($15–$26; $27 its contact, for
# a conversation whose contact was deleted), written only when the message is new (a
# redelivery inserts nothing, so the UPDATE finds no `m` row).
INSERT_MESSAGE_AND_TOUCH = f"""
WITH m AS ({_INSERT_MESSAGE}
    RETURNING *
), cv AS (
    UPDATE conversations SET updated_at = $14, last_activity_at = $15, last_message_text = $16,
        last_message_direction = $17, first_response_at = $18, handler = $19,
        unread_count = $20, first_inbound_at = $21, last_inbound_at = $22, contact_name = $23,
        status = $24, closed_at = $25, snoozed_until = $26,
        contact_id = coalesce(conversations.contact_id, $27)
    FROM m WHERE conversations.tenant_id = $1 AND conversations.id = $2
    RETURNING conversations.*, {_LABEL_IDS}
)
SELECT {fastsql.select_list(MessageRow, "m")}, {fastsql.select_list(ConversationRow, "cv")}
FROM m, cv"""

# A redelivered message whose conversation (and contact) this transaction had just created:
# they go again, so a duplicate stores nothing (rare: the message sits in a conversation of a
# since deleted number). Only rows this transaction inserted are named here.
DROP_CONVERSATION = "DELETE FROM conversations WHERE tenant_id = $1 AND id = $2"
DROP_CONTACT = "DELETE FROM contacts WHERE tenant_id = $1 AND id = $2"


async def instance_by_name(uow: UnitOfWork, name: str) -> InstanceRow | None:
    row = await fastsql.fetchrow(uow, INSTANCE, name)
    return fastsql.take(InstanceRow, row) if row is not None else None


async def contact_and_conversation(
    uow: fastsql.Writes,
    *,
    tenant_id: int,
    instance_id: int,
    phone: str,
    name: str | None,
    now: datetime,
    new_state: ConversationState,
) -> tuple[ContactRow, bool, ConversationRow, bool]:
    """The tenant's contact for `phone` and its conversation on this number, the conversation
    locked till the commit; either is created when missing (a new conversation with
    `new_state`, named after `name`, else the contact's name). (contact, contact created,
    conversation, conversation created)."""
    row = await fastsql.fetchrow(
        uow,
        CONTACT_AND_CONVERSATION,
        tenant_id,
        instance_id,
        phone,
        name,
        now,
        new_state.last_activity_at,
        new_state.last_message_text,
        new_state.last_message_direction,
        new_state.first_inbound_at,
        new_state.last_inbound_at,
        new_state.first_response_at,
        new_state.handler,
        new_state.unread_count,
    )
    assert row is not None  # found or inserted, both rows are there
    contact = ContactRow(*row[:_CONTACT_WIDTH])
    conversation = fastsql.take(ConversationRow, row, _CONTACT_WIDTH + 1)
    return contact, bool(row[_CONTACT_WIDTH]), conversation, bool(row[-1])


@dataclasses.dataclass(slots=True)
class NewMessage:
    tenant_id: int
    conversation_id: int
    instance_id: int
    whatsapp_message_id: str
    direction: str
    type: str
    body: str | None
    caption: str | None
    media: dict[str, Any] | None
    quoted_whatsapp_id: str | None
    sender_kind: str
    status: str
    sent_at: datetime
    now: datetime

    def values(self) -> tuple[Any, ...]:
        return (
            self.tenant_id,
            self.conversation_id,
            self.instance_id,
            self.whatsapp_message_id,
            self.direction,
            self.type,
            self.body,
            self.caption,
            # the engine's jsonb codec takes JSON text
            json.dumps(self.media) if self.media is not None else None,
            self.quoted_whatsapp_id,
            self.sender_kind,
            self.status,
            self.sent_at,
            self.now,
        )


async def insert_message(uow: fastsql.Writes, message: NewMessage) -> MessageRow | None:
    """The message into a conversation this transaction created; None when its WhatsApp id is
    already stored."""
    row = await fastsql.fetchrow(uow, INSERT_MESSAGE, *message.values())
    return fastsql.take(MessageRow, row) if row is not None else None


async def insert_message_and_touch(
    uow: fastsql.Writes, message: NewMessage, state: ConversationState, contact_id: int
) -> tuple[MessageRow, ConversationRow] | None:
    """The new message and its conversation after it (`state`); None, and nothing written,
    when the WhatsApp id is already stored."""
    row = await fastsql.fetchrow(
        uow,
        INSERT_MESSAGE_AND_TOUCH,
        *message.values(),
        state.last_activity_at,
        state.last_message_text,
        state.last_message_direction,
        state.first_response_at,
        state.handler,
        state.unread_count,
        state.first_inbound_at,
        state.last_inbound_at,
        state.contact_name,
        state.status,
        state.closed_at,
        state.snoozed_until,
        contact_id,
    )
    if row is None:
        return None
    return fastsql.take(MessageRow, row), fastsql.take(ConversationRow, row, _MESSAGE_WIDTH)


async def drop_created(
    uow: fastsql.Writes, tenant_id: int, conversation_id: int, contact_id: int | None
) -> None:
    """Deletes a conversation (and a contact) this transaction created."""
    await fastsql.execute(uow, DROP_CONVERSATION, tenant_id, conversation_id)
    if contact_id is not None:
        await fastsql.execute(uow, DROP_CONTACT, tenant_id, contact_id)
