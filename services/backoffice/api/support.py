"""Support (members) and AdminSupport (staff): thin servicers over domain/support.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import grpc
from google.protobuf import empty_pb2

from plixa.backoffice.v1 import support_pb2, support_pb2_grpc
from services.backoffice.domain import support
from services.backoffice.domain.support import Ticket
from services.backoffice.store.support import CannedRow, MessageRow, TicketFilter
from services.kit.db import Database
from services.kit.paging import Page, PageQuery
from services.kit.protos import masked_changes, optional, to_proto
from services.kit.rows import UNSET, Unset


def ticket_to_proto(ticket: Ticket) -> support_pb2.Ticket:
    return to_proto(
        ticket.row,
        support_pb2.Ticket,
        tags=[to_proto(t, support_pb2.SupportTag) for t in ticket.tags],
        messages=[message_to_proto(m) for m in ticket.messages],
        viewers=[to_proto(v, support_pb2.TicketViewer) for v in ticket.viewers],
    )


def message_to_proto(message: MessageRow) -> support_pb2.TicketMessage:
    return to_proto(message, support_pb2.TicketMessage)


def canned_to_proto(canned: CannedRow) -> support_pb2.CannedReply:
    return to_proto(canned, support_pb2.CannedReply)


def tickets_page(page: Page[Ticket]) -> support_pb2.ListTicketsResponse:
    return support_pb2.ListTicketsResponse(
        items=[ticket_to_proto(t) for t in page.items], meta=page.meta()
    )


class SupportApi(support_pb2_grpc.SupportServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def OpenTicket(
        self, request: support_pb2.OpenTicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        async with self.db.unit_of_work() as uow:
            ticket = await support.open_ticket(
                uow,
                subject=request.subject,
                body=request.body,
                priority=optional(request, "priority"),
            )
        return ticket_to_proto(ticket)

    async def ListTickets(
        self, request: support_pb2.ListTicketsRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.ListTicketsResponse:
        async with self.db.reader() as uow:
            page = await support.list_own(
                uow, optional(request, "status"), PageQuery.from_proto(request.page)
            )
        return tickets_page(page)

    async def GetTicket(
        self, request: support_pb2.TicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        async with self.db.reader() as uow:
            return ticket_to_proto(await support.get_own(uow, request.id))

    async def AddMessage(
        self, request: support_pb2.AddMessageRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.TicketMessage:
        async with self.db.unit_of_work() as uow:
            message = await support.member_writes(uow, request.id, request.body)
        return message_to_proto(message)

    async def CloseTicket(
        self, request: support_pb2.TicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        async with self.db.unit_of_work() as uow:
            return ticket_to_proto(await support.member_sets_status(uow, request.id, "closed"))

    async def ReopenTicket(
        self, request: support_pb2.TicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        async with self.db.unit_of_work() as uow:
            return ticket_to_proto(await support.member_sets_status(uow, request.id, "open"))

    async def RateTicket(
        self, request: support_pb2.RateTicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        async with self.db.unit_of_work() as uow:
            ticket = await support.rate(
                uow, request.id, request.rating, optional(request, "comment")
            )
        return ticket_to_proto(ticket)


@dataclass
class CannedChanges:
    title: str | Unset | None = UNSET
    body: str | Unset | None = UNSET


class AdminSupportApi(support_pb2_grpc.AdminSupportServicer):
    def __init__(self, db: Database, viewing_ttl: timedelta) -> None:
        self.db = db
        self.viewing_ttl = viewing_ttl

    async def AdminListTickets(
        self, request: support_pb2.AdminListTicketsRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.ListTicketsResponse:
        where = TicketFilter(
            tenant_id=optional(request, "tenant_id"),
            status=optional(request, "status"),
            priority=optional(request, "priority"),
            tag_id=optional(request, "tag_id"),
            assignee_staff_id=optional(request, "assignee_staff_id"),
        )
        async with self.db.reader() as uow:
            page = await support.list_all(uow, where, PageQuery.from_proto(request.page))
        return tickets_page(page)

    async def AdminGetTicket(
        self, request: support_pb2.TicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        async with self.db.reader() as uow:
            return ticket_to_proto(await support.get_any(uow, request.id))

    async def MarkViewing(
        self, request: support_pb2.TicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Viewers:
        async with self.db.unit_of_work() as uow:
            viewers = await support.mark_viewing(uow, request.id, self.viewing_ttl)
        return support_pb2.Viewers(viewers=[to_proto(v, support_pb2.TicketViewer) for v in viewers])

    async def SetPriority(
        self, request: support_pb2.SetPriorityRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        async with self.db.unit_of_work() as uow:
            ticket = await support.staff_sets(
                uow, request.id, "support.ticket.priority_changed", priority=request.priority
            )
        return ticket_to_proto(ticket)

    async def AssignTicket(
        self, request: support_pb2.AssignTicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        assignee = optional(request, "admin_id") or None
        async with self.db.unit_of_work() as uow:
            ticket = await support.staff_sets(
                uow, request.id, "support.ticket.assigned", assignee_staff_id=assignee
            )
        return ticket_to_proto(ticket)

    async def StaffReply(
        self, request: support_pb2.AddMessageRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.TicketMessage:
        async with self.db.unit_of_work() as uow:
            message = await support.staff_replies(uow, request.id, request.body)
        return message_to_proto(message)

    async def _status(self, ticket_id: int, status: str, action: str) -> support_pb2.Ticket:
        async with self.db.unit_of_work() as uow:
            ticket = await support.staff_sets(uow, ticket_id, action, status=status)
        return ticket_to_proto(ticket)

    async def AdminCloseTicket(
        self, request: support_pb2.TicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        return await self._status(request.id, "closed", "support.ticket.closed")

    async def AdminReopenTicket(
        self, request: support_pb2.TicketRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        return await self._status(request.id, "open", "support.ticket.reopened")

    async def SetStatus(
        self, request: support_pb2.SetStatusRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        return await self._status(request.id, request.status, "support.ticket.status_changed")

    async def SetTicketTags(
        self, request: support_pb2.SetTicketTagsRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.Ticket:
        async with self.db.unit_of_work() as uow:
            ticket = await support.set_tags(uow, request.id, list(request.tag_ids))
        return ticket_to_proto(ticket)

    async def CreateCannedReply(
        self, request: support_pb2.CreateCannedReplyRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.CannedReply:
        async with self.db.unit_of_work() as uow:
            canned = await support.create_canned(uow, request.title, request.body)
        return canned_to_proto(canned)

    async def ListCannedReplies(
        self, request: support_pb2.ListCannedRepliesRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.ListCannedRepliesResponse:
        async with self.db.reader() as uow:
            page = await support.list_canned(uow, PageQuery.from_proto(request.page))
        return support_pb2.ListCannedRepliesResponse(
            items=[canned_to_proto(c) for c in page.items], meta=page.meta()
        )

    async def GetCannedReply(
        self, request: support_pb2.CannedReplyRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.CannedReply:
        async with self.db.reader() as uow:
            return canned_to_proto(await support.get_canned(uow, request.id))

    async def UpdateCannedReply(
        self, request: support_pb2.UpdateCannedReplyRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.CannedReply:
        changes = masked_changes(request, CannedChanges)
        async with self.db.unit_of_work() as uow:
            canned = await support.update_canned(uow, request.id, changes.title, changes.body)
        return canned_to_proto(canned)

    async def DeleteCannedReply(
        self, request: support_pb2.CannedReplyRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await support.delete_canned(uow, request.id)
        return empty_pb2.Empty()

    async def CreateTag(
        self, request: support_pb2.CreateTagRequest, context: grpc.aio.ServicerContext
    ) -> support_pb2.SupportTag:
        async with self.db.unit_of_work() as uow:
            tag = await support.create_tag(uow, request.name)
        return to_proto(tag, support_pb2.SupportTag)

    async def ListTags(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> support_pb2.ListTagsResponse:
        async with self.db.reader() as uow:
            tags = await support.list_tags(uow)
        return support_pb2.ListTagsResponse(
            items=[to_proto(t, support_pb2.SupportTag) for t in tags]
        )

    async def DeleteTag(
        self, request: support_pb2.TagRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await support.delete_tag(uow, request.id)
        return empty_pb2.Empty()
