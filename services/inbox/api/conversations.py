"""The Conversations servicer: the inbox list, one conversation, edits, snooze, labels, bulk."""

from __future__ import annotations

from datetime import UTC

import grpc
from google.protobuf import empty_pb2

from plixa.inbox.v1 import conversations_pb2, conversations_pb2_grpc, inbox_pb2
from services.inbox.clients.identity import Members
from services.inbox.domain import conversations
from services.inbox.domain.access import conversation_for_caller
from services.inbox.domain.models import conversation_proto, message_proto
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.principal import current_principal
from services.kit.protos import masked_changes, optional
from services.kit.rows import UNSET


class ConversationsApi(conversations_pb2_grpc.ConversationsServicer):
    def __init__(self, db: Database, members: Members) -> None:
        self.db = db
        self.members = members

    async def ListConversations(
        self, request: conversations_pb2.ListConversationsRequest, context: grpc.aio.ServicerContext
    ) -> conversations_pb2.ListConversationsResponse:
        filters = conversations.Filters(
            status=optional(request, "status"),
            snoozed=optional(request, "snoozed"),
            assignee_id=optional(request, "assignee_id"),
            unassigned=optional(request, "unassigned"),
            label_id=optional(request, "label_id"),
            sector_id=optional(request, "sector_id"),
            search=optional(request, "search"),
        )
        async with self.db.reader() as uow:
            page = await conversations.list_page(uow, filters, PageQuery.from_proto(request.page))
        return conversations_pb2.ListConversationsResponse(
            items=[conversation_proto(r) for r in page.items], meta=page.meta()
        )

    async def GetConversation(
        self, request: conversations_pb2.GetConversationRequest, context: grpc.aio.ServicerContext
    ) -> conversations_pb2.ConversationView:
        async with self.db.unit_of_work() as uow:
            row = await conversation_for_caller(uow, request.id)
            page = await conversations.messages_page(uow, row, PageQuery.from_proto(request.page))
            row = await conversations.mark_read(uow, row)
        return conversations_pb2.ConversationView(
            conversation=conversation_proto(row),
            messages=[message_proto(m) for m in page.items],
            meta=page.meta(),
        )

    async def UpdateConversation(
        self,
        request: conversations_pb2.UpdateConversationRequest,
        context: grpc.aio.ServicerContext,
    ) -> inbox_pb2.Conversation:
        asked = masked_changes(request, conversations.ConversationChanges)
        members = None
        if asked.assigned_user_id is not UNSET and asked.assigned_user_id is not None:
            tenant_id = current_principal().tenant_id
            members = await self.members.existing(tenant_id, [asked.assigned_user_id])
        async with self.db.unit_of_work() as uow:
            row = await conversations.update(uow, request.id, asked, members)
        return conversation_proto(row)

    async def DeleteConversation(
        self, request: conversations_pb2.ConversationRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await conversations.delete(uow, request.id)
        return empty_pb2.Empty()

    async def SnoozeConversation(
        self,
        request: conversations_pb2.SnoozeConversationRequest,
        context: grpc.aio.ServicerContext,
    ) -> inbox_pb2.Conversation:
        until = None
        if request.HasField("until"):
            until = request.until.ToDatetime(tzinfo=UTC)
        async with self.db.unit_of_work() as uow:
            row = await conversations.snooze(uow, request.id, until)
        return conversation_proto(row)

    async def BulkConversations(
        self,
        request: conversations_pb2.BulkConversationsRequest,
        context: grpc.aio.ServicerContext,
    ) -> conversations_pb2.BulkConversationsResponse:
        assignee = optional(request, "assignee_id")
        members = None
        if request.action == "assign" and assignee is not None:
            members = await self.members.existing(current_principal().tenant_id, [assignee])
        async with self.db.unit_of_work() as uow:
            affected = await conversations.bulk(
                uow,
                request.action,
                list(request.ids),
                assignee,
                optional(request, "label_id"),
                members,
            )
        return conversations_pb2.BulkConversationsResponse(affected=affected)

    async def AttachConversationLabel(
        self, request: conversations_pb2.ConversationLabelRef, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.Conversation:
        async with self.db.unit_of_work() as uow:
            row = await conversations.set_label(uow, request.id, request.label_id, attach=True)
        return conversation_proto(row)

    async def DetachConversationLabel(
        self, request: conversations_pb2.ConversationLabelRef, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.Conversation:
        async with self.db.unit_of_work() as uow:
            row = await conversations.set_label(uow, request.id, request.label_id, attach=False)
        return conversation_proto(row)
