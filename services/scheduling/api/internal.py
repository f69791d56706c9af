"""SchedulingInternal: the AI's booking tools (list services, free slots, book, join the
waitlist), each for the tenant the caller names."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from sqlalchemy import select

from plixa.scheduling.v1 import internal_pb2, internal_pb2_grpc
from plixa.scheduling.v1 import scheduling_pb2 as pb
from services.kit.db import Database
from services.kit.errors import invalid
from services.kit.principal import service_principal
from services.kit.rows import from_rows
from services.scheduling.api import mapping
from services.scheduling.clients.inbox import Inbox
from services.scheduling.domain import appointments, waitlist
from services.scheduling.domain.appointments import Policy
from services.scheduling.domain.google import GoogleLinks
from services.scheduling.store.catalogue import ServiceRow
from services.scheduling.store.tables import services

Ctx: TypeAlias = grpc.aio.ServicerContext
MAX_SLOTS = 200


def tenant_of(request: object) -> int:
    tenant_id = int(getattr(request, "tenant_id", 0))
    if tenant_id <= 0:
        raise invalid("tenant_id", "The tenant_id field is required.", "required")
    return tenant_id


class SchedulingInternalApi(internal_pb2_grpc.SchedulingInternalServicer):
    def __init__(self, db: Database, inbox: Inbox, policy: Policy, google: GoogleLinks) -> None:
        self.db = db
        self.inbox = inbox
        self.policy = policy
        self.google = google

    async def ListBookableServices(
        self, request: internal_pb2.ListBookableServicesRequest, context: Ctx
    ) -> internal_pb2.ListBookableServicesResponse:
        tenant_id = tenant_of(request)
        async with self.db.reader(service_principal("scheduling", tenant_id)) as uow:
            rows = await uow.conn.execute(
                uow.scope.select(services)
                .where(services.c.provider_ids != [])
                .order_by(services.c.id)
            )
            found = from_rows(ServiceRow, rows)
        return internal_pb2.ListBookableServicesResponse(
            services=[mapping.service(s) for s in found]
        )

    async def ListFreeSlots(
        self, request: internal_pb2.ListFreeSlotsRequest, context: Ctx
    ) -> internal_pb2.ListFreeSlotsResponse:
        tenant_id = tenant_of(request)
        limit = request.limit if 0 < request.limit <= MAX_SLOTS else 20
        async with self.db.reader(service_principal("scheduling", tenant_id)) as uow:
            slots = await appointments.free_slots(
                uow,
                tenant_id,
                request.service_id,
                request.provider_id or None,
                getattr(request, "from"),
                request.to,
                self.policy,
            )
        response = internal_pb2.ListFreeSlotsResponse()
        mapping.fill_slots(response.slots, slots.head(limit))
        return response

    async def BookAppointment(
        self, request: internal_pb2.BookAppointmentRequest, context: Ctx
    ) -> pb.Appointment:
        tenant_id = tenant_of(request)
        await self.inbox.require_contact(tenant_id, request.contact_id)
        async with self.db.unit_of_work(service_principal("scheduling", tenant_id)) as uow:
            rows = await appointments.book(
                uow,
                appointments.Booking(
                    tenant_id=tenant_id,
                    service_id=request.service_id,
                    start=request.start,
                    provider_id=request.provider_id or None,
                    contact_id=request.contact_id or None,
                    notes=request.notes,
                    occurrences=1,
                    source="ai",
                    user_id=None,
                ),
                self.policy,
            )
        await self.google.push_appointments(self.db, rows)
        return mapping.appointment(rows[0])

    async def JoinWaitlist(
        self, request: internal_pb2.JoinWaitlistRequest, context: Ctx
    ) -> pb.WaitlistEntry:
        tenant_id = tenant_of(request)
        await self.inbox.require_contact(tenant_id, request.contact_id)
        async with self.db.unit_of_work(service_principal("scheduling", tenant_id)) as uow:
            entry = await waitlist.join(
                uow,
                request.service_id,
                request.provider_id or None,
                request.contact_id or None,
                request.phone,
                request.notes,
            )
        return mapping.waitlist_entry(entry)


__all__ = ["SchedulingInternalApi", "select"]
