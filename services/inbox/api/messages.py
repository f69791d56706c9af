"""The Messages servicer: replies from the panel, media, retries and the external send API."""

from __future__ import annotations

import grpc

from plixa.inbox.v1 import inbox_pb2, messages_pb2, messages_pb2_grpc
from services.inbox.domain import conversations, media, outbound
from services.inbox.domain.access import conversation_for_caller
from services.inbox.domain.models import ConversationRow, message_proto
from services.inbox.domain.outbound import Draft, Sender
from services.inbox.store import messaging as store
from services.kit.db import UnitOfWork
from services.kit.errors import not_found
from services.kit.paging import PageQuery
from services.kit.principal import current_principal
from services.kit.protos import optional
from services.kit.validation import Checker


class MessagesApi(messages_pb2_grpc.MessagesServicer):
    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.db = sender.db

    async def ListMessages(
        self, request: messages_pb2.ListMessagesRequest, context: grpc.aio.ServicerContext
    ) -> messages_pb2.ListMessagesResponse:
        async with self.db.reader() as uow:
            row = await conversation_for_caller(uow, request.id)
            page = await conversations.messages_page(uow, row, PageQuery.from_proto(request.page))
        return messages_pb2.ListMessagesResponse(
            items=[message_proto(m) for m in page.items], meta=page.meta()
        )

    async def SendMessage(
        self, request: messages_pb2.SendMessageRequest, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.Message:
        check = Checker()
        body = check.text("body", request.body, max_len=4096)
        check.done()
        user_id = current_principal().user_id

        async def build(uow: UnitOfWork) -> tuple[ConversationRow, Draft]:
            row = await conversation_for_caller(uow, request.id, lock=True)
            return row, Draft(
                type="text",
                body=body,
                quoted_message_id=optional(request, "quoted_message_id"),
                sender_kind="member",
                sender_user_id=user_id or None,
            )

        _, message = await outbound.send(self.sender, build)
        return message_proto(message)

    async def SendMediaMessage(
        self, request: messages_pb2.SendMediaMessageRequest, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.Message:
        voice = bool(optional(request, "voice"))
        checked = media.check(
            request.file,
            optional(request, "file_content_type"),
            optional(request, "file_filename"),
            voice,
        )
        caption = (optional(request, "caption") or "").strip() or None
        meta: dict[str, object] = {
            "mimetype": checked.mimetype,
            "file_name": checked.file_name,
            "size_bytes": len(request.file),
        }
        if request.HasField("duration_seconds"):
            meta["duration_seconds"] = request.duration_seconds
        if voice:
            meta["voice"] = True
            meta["waveform"] = [max(0, min(100, v)) for v in request.waveform][:256]
        user_id = current_principal().user_id

        async def build(uow: UnitOfWork) -> tuple[ConversationRow, Draft]:
            row = await conversation_for_caller(uow, request.id, lock=True)
            return row, Draft(
                type=checked.mediatype,
                caption=None if voice else caption,
                media={k: v for k, v in meta.items() if v is not None},
                sender_kind="member",
                sender_user_id=user_id or None,
                file=(checked.mediatype, checked.mimetype, checked.file_name, request.file),
            )

        _, message = await outbound.send(self.sender, build)
        return message_proto(message)

    async def RetryMessage(
        self, request: messages_pb2.MessageRef, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.Message:
        async with self.db.reader() as uow:
            tenant_id = uow.scope.tenant_id
            message = await store.get_message(uow, tenant_id, request.id)
            if message is None:
                raise not_found("Message")
            await conversation_for_caller(uow, message.conversation_id)  # 404 when hidden
        await self.sender.retry(tenant_id, request.id)
        return message_proto(await self.sender.deliver(tenant_id, request.id))

    async def SendExternal(
        self, request: messages_pb2.ExternalSendRequest, context: grpc.aio.ServicerContext
    ) -> messages_pb2.ExternalSendResponse:
        check = Checker()
        body = check.text("body", request.body, max_len=4096)
        phone = check.text("phone", request.phone, max_len=32)
        check.done()
        tenant_id = current_principal().tenant_id

        async def build(uow: UnitOfWork) -> tuple[ConversationRow, Draft]:
            row = await outbound.conversation_for_contact(uow, uow.scope.tenant_id, phone)
            return row, Draft(type="text", body=body, sender_kind="system")

        conversation, message = await outbound.send(self.sender, build)
        assert conversation.tenant_id == tenant_id
        return messages_pb2.ExternalSendResponse(
            conversation_id=conversation.id, message=message_proto(message)
        )
