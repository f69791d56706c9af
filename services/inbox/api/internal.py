"""InboxInternal: what AI, automation, scheduling and the backoffice ask of inbox, so none of
them reads its tables."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from sqlalchemy import text

from plixa.inbox.v1 import inbox_pb2, internal_pb2, internal_pb2_grpc
from services.inbox.domain import conversations, outbound
from services.inbox.domain.models import (
    BOT_SENDERS,
    ConversationRow,
    contact_proto,
    conversation_proto,
    message_proto,
)
from services.inbox.domain.outbound import Draft, Sender
from services.inbox.store import messaging as store
from services.kit.db import UnitOfWork
from services.kit.errors import FieldProblem, not_found, validation_failed
from services.kit.principal import ANONYMOUS


def _checked_send(sender_kind: str, body: str, key: str) -> str:
    problems = []
    if sender_kind not in BOT_SENDERS:
        problems.append(FieldProblem("sender_kind", "Must be ai, flow or system.", "in"))
    text_ = body.strip()
    if not text_ or len(text_) > 4096:
        problems.append(FieldProblem("text", "The text must have 1 to 4096 characters."))
    if not key.strip() or len(key) > 200:
        problems.append(FieldProblem("idempotency_key", "An idempotency key is required."))
    if problems:
        raise validation_failed(problems)
    return text_


class InboxInternalApi(internal_pb2_grpc.InboxInternalServicer):
    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.db = sender.db

    async def SendAsBot(
        self, request: internal_pb2.SendAsBotRequest, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.Message:
        body = _checked_send(request.sender_kind, request.text, request.idempotency_key)

        async def build(uow: UnitOfWork) -> tuple[ConversationRow, Draft]:
            row = await store.get_conversation(
                uow, request.tenant_id, request.conversation_id, lock=True
            )
            if row is None:
                raise not_found("Conversation")
            return row, Draft(
                type="text",
                body=body,
                sender_kind=request.sender_kind,
                idempotency_key=f"{request.sender_kind}:{request.idempotency_key}",
            )

        _, message = await outbound.send(self.sender, build)
        return message_proto(message)

    async def SendToContact(
        self, request: internal_pb2.SendToContactRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.SendToContactResponse:
        body = _checked_send(request.sender_kind, request.text, request.idempotency_key)
        key = f"{request.sender_kind}:{request.idempotency_key}"

        async def build(uow: UnitOfWork) -> tuple[ConversationRow, Draft]:
            existing = await store.message_by_key(uow, request.tenant_id, key)
            if existing is not None:  # a retried call: the same conversation and message
                row = await store.get_conversation(uow, request.tenant_id, existing.conversation_id)
                if row is not None:
                    return row, Draft(idempotency_key=key)
            row = await outbound.conversation_for_contact(
                uow, request.tenant_id, request.phone, request.contact_id
            )
            return row, Draft(
                type="text", body=body, sender_kind=request.sender_kind, idempotency_key=key
            )

        conversation, message = await outbound.send(self.sender, build)
        return internal_pb2.SendToContactResponse(
            conversation_id=conversation.id, message=message_proto(message)
        )

    async def ListRecentMessages(
        self, request: internal_pb2.ListRecentMessagesRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.ListRecentMessagesResponse:
        limit = request.limit or 20
        if not 1 <= limit <= 200:
            raise validation_failed([FieldProblem("limit", "The limit must be 1 to 200.")])
        async with self.db.reader(ANONYMOUS) as uow:
            row = await store.get_conversation(uow, request.tenant_id, request.conversation_id)
            if row is None:
                raise not_found("Conversation")
            rows = await store.recent_messages(uow, request.tenant_id, row.id, limit)
        return internal_pb2.ListRecentMessagesResponse(messages=[message_proto(m) for m in rows])

    async def GetContacts(
        self, request: internal_pb2.GetContactsRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.GetContactsResponse:
        async with self.db.reader(ANONYMOUS) as uow:
            rows = await store.get_contacts(uow, request.tenant_id, list(request.ids)[:1000])
        return internal_pb2.GetContactsResponse(contacts=[contact_proto(c) for c in rows])

    async def ClaimHandler(
        self, request: internal_pb2.ClaimHandlerRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.ClaimHandlerResponse:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            claimed, row = await conversations.claim_handler(
                uow,
                request.tenant_id,
                request.conversation_id,
                request.expected,
                request.new,
                request.reason,
            )
        return internal_pb2.ClaimHandlerResponse(
            claimed=claimed, conversation=conversation_proto(row)
        )

    async def GetUsage(
        self, request: internal_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.GetUsageResponse:
        now = datetime.now(UTC)
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        async with self.db.reader(ANONYMOUS) as uow:
            row = (
                await uow.conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM phone_instances WHERE tenant_id = :t) AS n,"
                        " (SELECT count(*) FROM conversations WHERE tenant_id = :t"
                        "  AND created_at >= :m) AS c,"
                        " (SELECT count(*) FROM messages WHERE tenant_id = :t"
                        "  AND created_at >= :m) AS msgs"
                    ),
                    {"t": request.tenant_id, "m": month},
                )
            ).one()
        return internal_pb2.GetUsageResponse(
            whatsapp_numbers=int(row.n),
            conversations_this_month=int(row.c),
            messages_this_month=int(row.msgs),
        )
