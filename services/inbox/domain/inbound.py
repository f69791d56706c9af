"""What Evolution tells us: customers' messages, receipts, pairing and connection changes.

A delivery is answered 2xx only after its effect is committed (with its events in the outbox),
so Evolution's retries never lose anything; the WhatsApp message id makes a redelivery a no-op,
and contacts and conversations are upserted on their unique keys, so two deliveries of a new
customer's first messages at once create one contact and one conversation."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.inbox.clients.evolution import SECRET_HEADER
from services.inbox.domain import events
from services.inbox.domain import whatsapp as wa
from services.inbox.domain.models import (
    ConversationRow,
    ConversationState,
    InstanceRow,
    MessageRow,
)
from services.inbox.domain.webhook_keys import WebhookKey, WebhookKeys
from services.inbox.store import inbound as inbound_store
from services.inbox.store import messaging as store
from services.kit.db import Database, UnitOfWork
from services.kit.errors import invalid, unauthenticated
from services.kit.fastsql import Writes
from services.kit.principal import ANONYMOUS

log = logging.getLogger("plixa.inbox.inbound")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Outcome:
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0


def _refused() -> Exception:
    return unauthenticated("INVALID_WEBHOOK_CREDENTIALS", "Unknown instance or wrong secret.")


async def handle_webhook(
    db: Database, keys: WebhookKeys, instance_name: str, headers: Mapping[str, str], body: bytes
) -> Outcome:
    """Authenticates the delivery by the instance's secret header, then applies it in one
    transaction. Unknown instance or wrong secret → 401 and nothing stored.

    Customers' messages (messages.upsert) are authenticated by the number's cached key
    (services/inbox/domain/webhook_keys.py): a number deleted since fails the message's
    writes on their foreign key, and the delivery is then authenticated again, from the
    database. Every other event reads its number's row anyway, and with it the key."""
    secret = headers.get(SECRET_HEADER, "")
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    envelope = wa.envelope_of(payload)
    key = keys.get(instance_name)
    if key is not None and envelope is not None and envelope.event == "messages.upsert":
        try:
            return await _store_with_cached_key(db, secret, envelope, key)
        except asyncpg.ForeignKeyViolationError:
            keys.forget(instance_name)  # deleted (or replaced) since: ask the database
    return await _apply(db, keys, instance_name, secret, envelope)


def _check_secret(secret: str, key: WebhookKey) -> None:
    if not secret or not hmac.compare_digest(secret_hash(secret), key.secret_hash):
        raise _refused()


async def _store_with_cached_key(
    db: Database, secret: str, envelope: wa.Envelope, key: WebhookKey
) -> Outcome:
    """The hot path: customers' messages for a number whose key is cached, in one transaction
    of the fast pool (every statement of it is fastsql: services/inbox/store/inbound.py)."""
    _check_secret(secret, key)
    async with db.fast_unit_of_work(ANONYMOUS) as uow:
        return await store_messages(uow, key.tenant_id, key.instance_id, envelope)


async def _apply(
    db: Database,
    keys: WebhookKeys,
    instance_name: str,
    secret: str,
    envelope: wa.Envelope | None,
) -> Outcome:
    """Any event, its number read (and its key cached) in the same transaction."""
    async with db.unit_of_work(ANONYMOUS) as uow:
        instance = await inbound_store.instance_by_name(uow, instance_name)
        if instance is None:
            raise _refused()
        key = WebhookKey(instance.id, instance.tenant_id, instance.webhook_secret_hash)
        keys.put(instance_name, key)
        _check_secret(secret, key)
        if envelope is None:
            raise invalid("body", "Not an Evolution webhook event.")
        return await apply_event(uow, instance, envelope)


async def store_messages(
    uow: Writes, tenant_id: int, instance_id: int, envelope: wa.Envelope
) -> Outcome:
    now = uow.clock.now()
    outcome = Outcome()
    for item in wa.upsert_items(envelope.data):
        parsed = wa.read_upsert(item, now)
        if isinstance(parsed, wa.Ignored):
            outcome.ignored += 1
        elif await store_message(uow, tenant_id, instance_id, parsed, now):
            outcome.stored += 1
        else:
            outcome.duplicates += 1
    return outcome


async def apply_event(uow: UnitOfWork, instance: InstanceRow, envelope: wa.Envelope) -> Outcome:
    now = uow.clock.now()
    outcome = Outcome()
    if envelope.event == "messages.upsert":
        return await store_messages(uow, instance.tenant_id, instance.id, envelope)
    elif envelope.event == "messages.update":
        items = envelope.data if isinstance(envelope.data, list) else [envelope.data]
        for item in items:
            receipt = wa.read_receipt(item)
            if isinstance(receipt, wa.Ignored):
                outcome.ignored += 1
            else:
                await apply_receipt(uow, instance, receipt, now)
    elif envelope.event == "connection.update":
        change = wa.read_connection(envelope.data)
        if not isinstance(change, wa.Ignored):
            await apply_connection(uow, instance, change, now)
    elif envelope.event == "qrcode.updated":
        qr = wa.read_qr(envelope.data)
        if not isinstance(qr, wa.Ignored):
            await apply_qr(uow, instance, qr, now)
    else:
        outcome.ignored += 1  # send.message and the rest: our sends are recorded when made
    return outcome


async def store_message(
    uow: Writes, tenant_id: int, instance_id: int, m: wa.InboundMessage, now: datetime
) -> bool:
    """Stores one message, False when its WhatsApp id is already stored (then no message,
    conversation or event is added): two statements (services/inbox/store/inbound.py)."""
    name = None if m.from_me else m.push_name
    direction = "outbound" if m.from_me else "inbound"
    contact, contact_created, conversation, created = await inbound_store.contact_and_conversation(
        uow,
        tenant_id=tenant_id,
        instance_id=instance_id,
        phone=m.phone,
        name=name,
        now=now,
        new_state=next_state(new_conversation(m), True, m, name, direction),
    )
    message = inbound_store.NewMessage(
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        instance_id=instance_id,
        whatsapp_message_id=m.whatsapp_message_id,
        direction=direction,
        type=m.type,
        body=m.body,
        caption=m.caption,
        media=m.media,
        quoted_whatsapp_id=m.quoted_whatsapp_id,
        sender_kind="member" if m.from_me else "customer",
        status="sent" if m.from_me else "received",
        sent_at=m.sent_at,
        now=now,
    )
    if created:  # inserted with its state after this message already
        row = await inbound_store.insert_message(uow, message)
        if row is None:
            await inbound_store.drop_created(
                uow, tenant_id, conversation.id, contact.id if contact_created else None
            )
            return False
        after = conversation
    else:
        if conversation.contact_id is None:  # its contact was deleted: linked to this one
            conversation.contact_id = contact.id
        state = next_state(state_of(conversation), False, m, name, direction)
        stored = await inbound_store.insert_message_and_touch(uow, message, state, contact.id)
        if stored is None:
            return False
        row, after = stored
    if contact_created:
        events.contact_created(uow, contact)
    if created:
        events.conversation_created(uow, after, reason="inbound")
    else:
        events.conversation_updated(
            uow, conversation, after, reason="outbound" if m.from_me else "inbound"
        )
    events.message_stored(uow, after, row, created)
    return True


def state_of(row: ConversationRow) -> ConversationState:
    return ConversationState(
        last_activity_at=row.last_activity_at,
        last_message_text=row.last_message_text,
        last_message_direction=row.last_message_direction,
        first_response_at=row.first_response_at,
        handler=row.handler,
        unread_count=row.unread_count,
        first_inbound_at=row.first_inbound_at,
        last_inbound_at=row.last_inbound_at,
        contact_name=row.contact_name,
        status=row.status,
        closed_at=row.closed_at,
        snoozed_until=row.snoozed_until,
    )


def new_conversation(m: wa.InboundMessage) -> ConversationState:
    """A conversation before its first message."""
    return ConversationState(
        last_activity_at=m.sent_at,
        last_message_text=None,
        last_message_direction=None,
        first_response_at=None,
        handler="none",
        unread_count=0,
        first_inbound_at=None,
        last_inbound_at=None,
        contact_name=None,
        status="open",
        closed_at=None,
        snoozed_until=None,
    )


def next_state(
    before: ConversationState,
    created: bool,
    m: wa.InboundMessage,
    name: str | None,
    direction: str,
) -> ConversationState:
    """The conversation after a new message: ordered by WhatsApp's time (a late delivery of an
    older message neither moves the activity back nor becomes the preview); a customer's
    message counts as unread, reopens a closed conversation and wakes a snoozed one; one sent
    from the phone is a member's answer (the handler becomes human)."""
    newest = created or m.sent_at >= before.last_activity_at
    state = dataclasses.replace(
        before,
        last_activity_at=(
            m.sent_at if created or m.sent_at > before.last_activity_at else before.last_activity_at
        ),
        last_message_text=wa.preview(m) if newest else before.last_message_text,
        last_message_direction=direction if newest else before.last_message_direction,
    )
    if m.from_me:
        if state.first_response_at is None:
            state.first_response_at = m.sent_at
        state.handler = "human"
    else:
        state.unread_count += 1
        if state.first_inbound_at is None:
            state.first_inbound_at = m.sent_at
        if state.last_inbound_at is None or m.sent_at > state.last_inbound_at:
            state.last_inbound_at = m.sent_at
        if state.contact_name is None and name:
            state.contact_name = name
        if state.status == "closed":
            state.status = "open"
            state.closed_at = None
        state.snoozed_until = None  # the customer wrote: it is back in the inbox
    return state


async def apply_receipt(
    uow: UnitOfWork, instance: InstanceRow, receipt: wa.Receipt, now: datetime
) -> None:
    tenant_id, wa_id = instance.tenant_id, receipt.whatsapp_message_id
    row = await _receipt_applied(uow, tenant_id, receipt, now)
    if row is None and receipt.from_me and not await _stored(uow, tenant_id, wa_id):
        # Evolution may post the receipt of our send before the send's own transaction stored
        # the WhatsApp id: wait for that transaction (if any), look again, else keep the receipt
        # for the send to apply (services/inbox/domain/outbound.py).
        await store.lock_whatsapp_id(uow, tenant_id, wa_id)
        row = await _receipt_applied(uow, tenant_id, receipt, now)
        if row is None and not await _stored(uow, tenant_id, wa_id):
            await store.keep_early_receipt(uow, tenant_id, wa_id, receipt.status, now)
    if row is not None:
        await _announce_status(uow, tenant_id, row)


async def apply_early_receipts(
    uow: UnitOfWork, tenant_id: int, wa_id: str, now: datetime
) -> MessageRow | None:
    """Applies the receipts kept for a WhatsApp id that has just been stored (the caller holds
    `store.lock_whatsapp_id`); the message as they left it, or None when there were none."""
    row: MessageRow | None = None
    for status in await store.take_early_receipts(uow, tenant_id, wa_id):
        row = await _receipt_applied(uow, tenant_id, wa.Receipt(wa_id, status, True), now) or row
    return row


async def _stored(uow: UnitOfWork, tenant_id: int, wa_id: str) -> bool:
    return await store.message_id_by_whatsapp_id(uow, tenant_id, wa_id) is not None


async def _receipt_applied(
    uow: UnitOfWork, tenant_id: int, receipt: wa.Receipt, now: datetime
) -> MessageRow | None:
    """The message the receipt moved forward; None when it changed nothing (unknown id, an
    inbound message, or a late receipt of an earlier state: never backwards)."""
    wa_id = receipt.whatsapp_message_id
    if receipt.status != "failed":
        return await store.advance_status(uow, tenant_id, wa_id, receipt.status, now)
    message_id = await store.message_id_by_whatsapp_id(uow, tenant_id, wa_id)
    row = await store.get_message(uow, tenant_id, message_id) if message_id else None
    if row is None or row.direction != "outbound" or row.status not in ("pending", "sent"):
        return None
    return await store.update_message(
        uow, row.id, status="failed", failure_reason="whatsapp_error", updated_at=now
    )


async def _announce_status(uow: UnitOfWork, tenant_id: int, row: MessageRow) -> None:
    conversation = await store.get_conversation(uow, tenant_id, row.conversation_id)
    if conversation is not None:
        events.message_status_changed(uow, conversation, row)


async def apply_connection(
    uow: UnitOfWork, instance: InstanceRow, change: wa.ConnectionChange, now: datetime
) -> None:
    if change.state == "open":
        if instance.status == "connected" and instance.phone_number == (
            change.phone or instance.phone_number
        ):
            return
        row = await store.update_instance(
            uow,
            instance.id,
            status="connected",
            phone_number=change.phone or instance.phone_number,
            profile_name=change.profile_name or instance.profile_name,
            connected_at=now,
            qr_code=None,
            qr_text=None,
            updated_at=now,
        )
        events.instance_changed(uow, row, connected=True, reason="connection.update")
    elif change.state in ("close", "refused"):
        if instance.status == "disconnected":
            return
        row = await store.update_instance(
            uow,
            instance.id,
            status="disconnected",
            disconnected_at=now,
            qr_code=None,
            qr_text=None,
            updated_at=now,
        )
        events.instance_changed(uow, row, connected=False, reason="connection.update")


async def apply_qr(uow: UnitOfWork, instance: InstanceRow, qr: wa.QrChange, now: datetime) -> None:
    if instance.status == "connected":
        return
    if qr.limit_reached:
        await store.update_instance(
            uow, instance.id, status="disconnected", qr_code=None, qr_text=None, updated_at=now
        )
        return
    await store.update_instance(
        uow,
        instance.id,
        status="pending_qr",
        qr_code=qr.base64,
        qr_text=qr.code,
        qr_updated_at=now,
        updated_at=now,
    )
