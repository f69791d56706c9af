"""Messages to customers: persisted first (status pending, with their events), then handed to
Evolution; the answer moves them to sent (or failed, with the reason). A failed message keeps
its content (and its file) so it can be retried; nothing is ever dropped silently."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from services.inbox.clients.evolution import EvolutionClient, EvolutionError, SentMessage
from services.inbox.domain import events
from services.inbox.domain import whatsapp as wa
from services.inbox.domain.inbound import apply_early_receipts
from services.inbox.domain.models import ConversationRow, InstanceRow, MessageRow
from services.inbox.store import messaging as store
from services.kit.crypto import SecretBox
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, invalid, not_found
from services.kit.principal import ANONYMOUS

log = logging.getLogger("plixa.inbox.outbound")


def no_connected_number() -> DomainError:
    return DomainError(
        "NO_CONNECTED_NUMBER",
        "No connected WhatsApp number can send this message. Pair a number first.",
        409,
    )


@dataclass
class Draft:
    type: str = "text"
    body: str | None = None
    caption: str | None = None
    media: dict[str, Any] | None = None
    quoted_message_id: int | None = None
    sender_kind: str = "member"
    sender_user_id: int | None = None
    idempotency_key: str | None = None
    # The file, for media messages: (mediatype, mimetype, file name, bytes).
    file: tuple[str, str, str | None, bytes] | None = None


async def prepare(
    uow: UnitOfWork, conversation: ConversationRow, draft: Draft
) -> tuple[MessageRow, bool]:
    """Persists the message as pending with its events; (message, new). A repeated
    idempotency key answers the first message."""
    tenant_id = conversation.tenant_id
    if draft.idempotency_key:
        existing = await store.message_by_key(uow, tenant_id, draft.idempotency_key)
        if existing is not None:
            return existing, False
    instance = (
        await store.get_instance(uow, tenant_id, conversation.phone_instance_id)
        if conversation.phone_instance_id
        else None
    )
    if instance is None or instance.status != "connected":
        raise no_connected_number()
    quoted: MessageRow | None = None
    if draft.quoted_message_id is not None:
        quoted = await store.get_message(uow, tenant_id, draft.quoted_message_id)
        if quoted is None or quoted.conversation_id != conversation.id:
            raise invalid("quoted_message_id", "The quoted message is not in this conversation.")
    now = uow.clock.now()
    message = await store.insert_message(
        uow,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        phone_instance_id=instance.id,
        idempotency_key=draft.idempotency_key,
        direction="outbound",
        type=draft.type,
        body=draft.body,
        caption=draft.caption,
        media=draft.media,
        quoted_message_id=quoted.id if quoted else None,
        quoted_whatsapp_id=quoted.whatsapp_message_id if quoted else None,
        sender_kind=draft.sender_kind,
        sender_user_id=draft.sender_user_id,
        status="pending",
        attempts=0,
        sent_at=now,
        created_at=now,
        updated_at=now,
    )
    if message is None:  # the same idempotency key, committed meanwhile
        existing = await store.message_by_key(uow, tenant_id, draft.idempotency_key or "")
        if existing is None:
            raise RuntimeError("message insert conflicted without a stored twin")
        return existing, False
    if draft.file is not None:
        mediatype, mimetype, file_name, data = draft.file
        await store.store_outbound_media(
            uow,
            message_id=message.id,
            tenant_id=tenant_id,
            mediatype=mediatype,
            mimetype=mimetype,
            file_name=file_name,
            data=data,
            created_at=now,
        )
    changes: dict[str, Any] = {
        "last_activity_at": max(now, conversation.last_activity_at),
        "last_message_text": (draft.body or draft.caption or f"[{draft.type}]")[:200],
        "last_message_direction": "outbound",
        "updated_at": now,
    }
    if conversation.first_response_at is None and conversation.first_inbound_at is not None:
        changes["first_response_at"] = now
    if draft.sender_kind == "member":
        changes["handler"] = "human"  # a member who replies takes the conversation over
        changes["unread_count"] = 0
        if conversation.status == "closed":
            changes["status"] = "open"
            changes["closed_at"] = None
    after = await store.update_conversation(uow, tenant_id, conversation.id, **changes)
    events.conversation_updated(
        uow, conversation, after, reason="outbound", actor_user_id=draft.sender_user_id
    )
    events.message_stored(uow, after, message)
    return message, True


class Sender:
    def __init__(self, db: Database, evolution: EvolutionClient, box: SecretBox) -> None:
        self.db = db
        self.evolution = evolution
        self.box = box

    async def deliver(self, tenant_id: int, message_id: int) -> MessageRow:
        """Hands a pending message to Evolution and records the outcome. The message is
        claimed first (committed before the call): a concurrent delivery of it (the sweep, a
        retry) backs off, and a crash during the call leaves it for `fail_unconfirmed`."""
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            message = await store.claim_delivery(uow, tenant_id, message_id, uow.clock.now())
            if message is None:
                current = await store.get_message(uow, tenant_id, message_id)
                if current is None:
                    raise not_found("Message")
                return current  # sent, failed, or being handed over by another delivery
            conversation = await store.get_conversation(uow, tenant_id, message.conversation_id)
            instance = (
                await store.get_instance(uow, tenant_id, message.phone_instance_id)
                if message.phone_instance_id
                else None
            )
            media = await store.outbound_media(uow, message.id)
        sent: SentMessage | None = None
        reason = None
        if conversation is None:
            return message
        if instance is None or instance.status != "connected":
            reason = "number_not_connected"
        else:
            try:
                sent = await self._call(instance, conversation, message, media)
            except EvolutionError as exc:
                reason = exc.reason
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            current = await store.get_message(uow, tenant_id, message_id, lock=True)
            if current is None or current.status != "pending":
                return current or message
            now = uow.clock.now()
            if sent is not None:
                wa_id = sent.whatsapp_message_id
                await store.lock_whatsapp_id(uow, tenant_id, wa_id)  # vs. an early receipt
                updated = await store.update_message(
                    uow,
                    message_id,
                    status="sent",
                    whatsapp_message_id=wa_id,
                    failure_reason=None,
                    attempts=current.attempts + 1,
                    updated_at=now,
                )
                updated = await apply_early_receipts(uow, tenant_id, wa_id, now) or updated
                await store.drop_outbound_media(uow, message_id)
            else:
                updated = await store.update_message(
                    uow,
                    message_id,
                    status="failed",
                    failure_reason=reason,
                    attempts=current.attempts + 1,
                    updated_at=now,
                )
            events.message_status_changed(uow, conversation, updated)
            return updated

    async def _call(
        self, instance: InstanceRow, conversation: ConversationRow, message: MessageRow, media: Any
    ) -> SentMessage:
        key = self.box.open(instance.api_key)
        number = conversation.contact_phone
        if media is not None:
            payload = base64.b64encode(media.data).decode()
            if media.mediatype == "audio" and (message.media or {}).get("voice"):
                return await self.evolution.send_voice(instance.instance_name, key, number, payload)
            return await self.evolution.send_media(
                instance.instance_name,
                key,
                number,
                mediatype=media.mediatype,
                mimetype=media.mimetype,
                media_base64=payload,
                caption=message.caption,
                file_name=media.file_name,
            )
        quoted = None
        if message.quoted_whatsapp_id:
            quoted = {
                "key": {
                    "id": message.quoted_whatsapp_id,
                    "remoteJid": f"{number}@s.whatsapp.net",
                    "fromMe": False,
                },
                "message": {"conversation": ""},
            }
        return await self.evolution.send_text(
            instance.instance_name, key, number, message.body or "", quoted
        )

    async def retry(self, tenant_id: int, message_id: int) -> None:
        """Puts a failed message back to pending (the caller then delivers it)."""
        async with self.db.unit_of_work() as uow:
            message = await store.get_message(uow, tenant_id, message_id, lock=True)
            if message is None:
                raise not_found("Message")
            if message.status != "failed" or message.direction != "outbound":
                raise DomainError(
                    "MESSAGE_NOT_FAILED", "Only a failed message can be sent again.", 409
                )
            if message.type != "text" and await store.outbound_media(uow, message.id) is None:
                raise DomainError(
                    "MESSAGE_NOT_FAILED", "This message's file is no longer kept.", 409
                )
            conversation = await store.get_conversation(uow, tenant_id, message.conversation_id)
            instance = (
                await store.get_instance(uow, tenant_id, message.phone_instance_id)
                if message.phone_instance_id
                else None
            )
            if instance is None or instance.status != "connected":
                raise no_connected_number()
            updated = await store.update_message(
                uow,
                message_id,
                status="pending",
                failure_reason=None,
                handed_at=None,  # free to be handed over again
                updated_at=uow.clock.now(),
            )
            if conversation is not None:
                events.message_status_changed(uow, conversation, updated)

    async def stale_pending(self, older_than: timedelta, limit: int = 100) -> list[tuple[int, int]]:
        """(tenant, message) of sends left pending and never handed to Evolution (a crash
        between the commit and the call): safe to deliver now."""
        async with self.db.reader(ANONYMOUS) as uow:
            cutoff: datetime = uow.clock.now() - older_than
            rows = await uow.conn.execute(
                text(
                    "SELECT tenant_id, id FROM messages WHERE status = 'pending'"
                    " AND handed_at IS NULL AND updated_at < :cutoff ORDER BY updated_at LIMIT :n"
                ),
                {"cutoff": cutoff, "n": limit},
            )
            return [(int(r.tenant_id), int(r.id)) for r in rows]

    async def fail_unconfirmed(self, handed_before: timedelta, limit: int = 100) -> int:
        """Sends handed to Evolution whose outcome was never recorded (the process died during
        the call) are failed, not sent again: Evolution may have delivered them, and a customer
        must never get a message twice. The team sees them failed and may send them again."""
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            failed = await store.fail_unconfirmed_deliveries(
                uow, uow.clock.now() - handed_before, limit
            )
            for message in failed:
                conversation = await store.get_conversation(
                    uow, message.tenant_id, message.conversation_id
                )
                if conversation is not None:
                    events.message_status_changed(uow, conversation, message)
        return len(failed)


Build = Callable[[UnitOfWork], Awaitable[tuple[ConversationRow, Draft]]]


async def send(sender: Sender, build: Build) -> tuple[ConversationRow, MessageRow]:
    """Persists (in one transaction with its events), then delivers a new message."""
    async with sender.db.unit_of_work() as uow:
        conversation, draft = await build(uow)
        message, new = await prepare(uow, conversation, draft)
    if new:
        message = await sender.deliver(conversation.tenant_id, message.id)
    return conversation, message


def valid_phone(phone: str, field_name: str = "phone") -> str:
    number = wa.digits(phone)
    if not 8 <= len(number) <= 15:
        raise invalid(field_name, "The phone must have 8 to 15 digits, with the country code.")
    return number


async def conversation_for_contact(
    uow: UnitOfWork, tenant_id: int, phone: str, contact_id: int = 0
) -> ConversationRow:
    """The conversation with this contact on the tenant's first connected number, created or
    reopened as needed."""
    instance = await store.first_connected_instance(uow, tenant_id)
    if instance is None:
        raise no_connected_number()
    name = None
    if contact_id:
        found = await store.get_contacts(uow, tenant_id, [contact_id])
        if not found:
            raise not_found("Contact")
        phone, name = found[0].phone, found[0].name
    number = valid_phone(phone)
    now = uow.clock.now()
    contact, contact_created = await store.upsert_contact(uow, tenant_id, number, None, now)
    conversation, created = await store.upsert_conversation(
        uow,
        tenant_id=tenant_id,
        instance_id=instance.id,
        contact_id=contact.id,
        phone=number,
        name=name or contact.name,
        now=now,
    )
    if contact_created:
        events.contact_created(uow, contact)
    if created:
        events.conversation_created(uow, conversation, reason="outbound")
    elif conversation.status == "closed":
        after = await store.update_conversation(
            uow, tenant_id, conversation.id, status="open", closed_at=None, updated_at=now
        )
        events.conversation_updated(uow, conversation, after, "reopened")
        conversation = after
    return conversation
