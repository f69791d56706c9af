"""The Scheduling servicer (thin: the rules live in domain/)."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from google.protobuf import empty_pb2

from plixa.scheduling.v1 import scheduling_pb2 as pb
from plixa.scheduling.v1 import scheduling_pb2_grpc
from services.kit.db import Database
from services.kit.errors import invalid
from services.kit.paging import PageQuery
from services.kit.protos import masked_changes, optional
from services.kit.rows import changed
from services.scheduling.api import mapping
from services.scheduling.clients.holidays import Holidays
from services.scheduling.clients.identity import Members
from services.scheduling.clients.inbox import Inbox
from services.scheduling.domain import appointments, catalogue, holidays
from services.scheduling.domain.appointments import Policy
from services.scheduling.domain.google import GoogleLinks
from services.scheduling.domain.payments import Deposits
from services.scheduling.domain.waitlist import offer_freed_slot
from services.scheduling.store import catalogue as store
from services.scheduling.store import waitlist as waitlist_store

Ctx: TypeAlias = grpc.aio.ServicerContext


def service_input(message: pb.ServiceInput) -> catalogue.ServiceInput:
    return catalogue.ServiceInput(
        name=message.name,
        description=message.description,
        duration_minutes=optional(message, "duration_minutes"),
        buffer_before_minutes=message.buffer_before_minutes,
        buffer_after_minutes=message.buffer_after_minutes,
        price_cents=message.price_cents,
        currency=optional(message, "currency") or "BRL",
        deposit_cents=message.deposit_cents,
        requires_approval=message.requires_approval,
        provider_ids=list(message.provider_ids),
        resource_ids=list(message.resource_ids),
        reminder_offsets=mapping.list_of(message, "reminder_offsets"),
    )


class SchedulingApi(scheduling_pb2_grpc.SchedulingServicer):
    def __init__(
        self,
        db: Database,
        members: Members,
        inbox: Inbox,
        policy: Policy,
        holiday_source: Holidays,
        google: GoogleLinks,
        deposits: Deposits,
    ) -> None:
        self.db = db
        self.members = members
        self.inbox = inbox
        self.policy = policy
        self.holidays = holiday_source
        self.google = google
        self.deposits = deposits

    # ── services ────────────────────────────────────────────────────────────────────────

    async def ListServices(
        self, request: pb.ListServicesRequest, context: Ctx
    ) -> pb.ListServicesResponse:
        async with self.db.reader() as uow:
            page = await store.list_services(uow, PageQuery.from_proto(request.page))
        return pb.ListServicesResponse(
            items=[mapping.service(s) for s in page.items], meta=page.meta()
        )

    async def GetService(self, request: pb.ServiceRef, context: Ctx) -> pb.Service:
        async with self.db.reader() as uow:
            return mapping.service(await catalogue.get_service(uow, request.id))

    async def CreateService(self, request: pb.ServiceInput, context: Ctx) -> pb.Service:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.create_service(uow, self.members, service_input(request))
        return mapping.service(row)

    async def UpdateService(self, request: pb.UpdateServiceRequest, context: Ctx) -> pb.Service:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.update_service(
                uow, self.members, request.id, service_input(request.service)
            )
        return mapping.service(row)

    async def DeleteService(self, request: pb.ServiceRef, context: Ctx) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await catalogue.delete_service(uow, request.id)
        return empty_pb2.Empty()

    # ── resources ───────────────────────────────────────────────────────────────────────

    async def ListResources(
        self, request: pb.ListResourcesRequest, context: Ctx
    ) -> pb.ListResourcesResponse:
        async with self.db.reader() as uow:
            page = await store.list_resources(uow, PageQuery.from_proto(request.page))
        return pb.ListResourcesResponse(
            items=[mapping.resource(r) for r in page.items], meta=page.meta()
        )

    async def GetResource(self, request: pb.ResourceRef, context: Ctx) -> pb.Resource:
        async with self.db.reader() as uow:
            return mapping.resource(await catalogue.get_resource(uow, request.id))

    async def CreateResource(self, request: pb.ResourceInput, context: Ctx) -> pb.Resource:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.create_resource(uow, request.name, optional(request, "capacity"))
        return mapping.resource(row)

    async def UpdateResource(self, request: pb.UpdateResourceRequest, context: Ctx) -> pb.Resource:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.update_resource(
                uow, request.id, request.resource.name, optional(request.resource, "capacity")
            )
        return mapping.resource(row)

    async def DeleteResource(self, request: pb.ResourceRef, context: Ctx) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await catalogue.delete_resource(uow, request.id)
        return empty_pb2.Empty()

    # ── providers and schedules ─────────────────────────────────────────────────────────

    async def ListProviders(
        self, request: pb.ListProvidersRequest, context: Ctx
    ) -> pb.ListProvidersResponse:
        async with self.db.reader() as uow:
            schedules = await store.schedules_of(uow)
            tenant_id = uow.scope.tenant_id
            links = await self.google.statuses(uow, [s.provider_id for s in schedules])
        users = await self.members.get(tenant_id, [s.provider_id for s in schedules])
        return pb.ListProvidersResponse(
            items=[
                pb.Provider(
                    id=s.provider_id,
                    name=users[s.provider_id].name,
                    email=users[s.provider_id].email,
                    role=users[s.provider_id].role,
                    schedule=mapping.schedule(s, s.provider_id),
                    google_status=links.get(s.provider_id, "none"),
                )
                for s in schedules
                if s.provider_id in users  # a member who left is bookable no more
            ]
        )

    async def GetProviderSchedule(
        self, request: pb.ProviderRef, context: Ctx
    ) -> pb.ProviderSchedule:
        async with self.db.reader() as uow:
            row = await catalogue.get_provider_schedule(uow, self.members, request.id)
        return mapping.schedule(row, request.id)

    async def PutProviderSchedule(
        self, request: pb.PutProviderScheduleRequest, context: Ctx
    ) -> pb.ProviderSchedule:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.put_provider_schedule(
                uow, self.members, request.id, request.timezone, list(request.rules)
            )
        return mapping.schedule(row, request.id)

    async def GetDefaultSchedule(
        self, request: pb.GetDefaultScheduleRequest, context: Ctx
    ) -> pb.DefaultSchedule:
        async with self.db.reader() as uow:
            row = await store.get_default_schedule(uow)
        if row is None:
            return pb.DefaultSchedule(timezone="", rules=[])
        return pb.DefaultSchedule(
            timezone=row.timezone, rules=mapping.rules(row.rules), updated_at=row.updated_at
        )

    async def PutDefaultSchedule(
        self, request: pb.PutDefaultScheduleRequest, context: Ctx
    ) -> pb.DefaultSchedule:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.put_default_schedule(uow, request.timezone, list(request.rules))
        return pb.DefaultSchedule(
            timezone=row.timezone, rules=mapping.rules(row.rules), updated_at=row.updated_at
        )

    # ── closures, holidays, reminders ───────────────────────────────────────────────────

    async def ListClosures(
        self, request: pb.ListClosuresRequest, context: Ctx
    ) -> pb.ListClosuresResponse:
        first, last = catalogue.checked_range(optional(request, "from"), optional(request, "to"))
        async with self.db.reader() as uow:
            page = await store.list_closures(uow, first, last, PageQuery.from_proto(request.page))
        return pb.ListClosuresResponse(
            items=[mapping.closure(c) for c in page.items], meta=page.meta()
        )

    async def CreateClosure(self, request: pb.CreateClosureRequest, context: Ctx) -> pb.Closure:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.create_closure(uow, request.date, request.reason)
        return mapping.closure(row)

    async def DeleteClosure(self, request: pb.ClosureRef, context: Ctx) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await catalogue.delete_closure(uow, request.id)
        return empty_pb2.Empty()

    async def _holiday_config(self) -> pb.HolidayConfig:
        async with self.db.reader() as uow:
            row = await store.get_holiday_config(uow, uow.scope.tenant_id)
        if row is None:
            return pb.HolidayConfig(block_holidays=False, country_code="", synced=False)
        return pb.HolidayConfig(
            block_holidays=row.block_holidays,
            country_code=row.country_code.strip(),
            synced=row.synced,
            synced_at=row.synced_at,
            updated_at=row.updated_at,
        )

    async def GetHolidayConfig(
        self, request: pb.GetHolidayConfigRequest, context: Ctx
    ) -> pb.HolidayConfig:
        return await self._holiday_config()

    async def PutHolidayConfig(
        self, request: pb.PutHolidayConfigRequest, context: Ctx
    ) -> pb.HolidayConfig:
        if not request.HasField("block_holidays"):
            raise invalid("block_holidays", "The block_holidays field is required.", "required")
        async with self.db.unit_of_work() as uow:
            row = await holidays.save_config(
                uow, request.block_holidays, optional(request, "country_code")
            )
        if row.block_holidays:
            await holidays.sync(self.db, self.holidays, row.tenant_id)
        return await self._holiday_config()

    async def _reminder_config(self, row: store.ReminderConfigRow | None) -> pb.ReminderConfig:
        offsets = None if row is None else row.offsets
        effective = catalogue.effective_offsets(None, row, self.policy.default_reminders)
        return pb.ReminderConfig(
            offsets=mapping.list_value(offsets),
            effective_offsets=effective,
            updated_at=None if row is None else row.updated_at,
        )

    async def GetReminderConfig(
        self, request: pb.GetReminderConfigRequest, context: Ctx
    ) -> pb.ReminderConfig:
        async with self.db.reader() as uow:
            row = await store.get_reminder_config(uow, uow.scope.tenant_id)
        return await self._reminder_config(row)

    async def PutReminderConfig(
        self, request: pb.PutReminderConfigRequest, context: Ctx
    ) -> pb.ReminderConfig:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.put_reminder_config(uow, mapping.list_of(request, "offsets"))
        return await self._reminder_config(row)

    # ── calendar filters ────────────────────────────────────────────────────────────────

    async def ListCalendarFilters(
        self, request: pb.ListCalendarFiltersRequest, context: Ctx
    ) -> pb.ListCalendarFiltersResponse:
        async with self.db.reader() as uow:
            rows = await store.list_filters(uow, catalogue._user_id(uow))
        return pb.ListCalendarFiltersResponse(items=[mapping.calendar_filter(r) for r in rows])

    async def CreateCalendarFilter(
        self, request: pb.CalendarFilterInput, context: Ctx
    ) -> pb.CalendarFilter:
        async with self.db.unit_of_work() as uow:
            row = await catalogue.create_filter(
                uow,
                request.name,
                list(request.provider_ids),
                list(request.service_ids),
                list(request.statuses),
                request.is_default,
            )
        return mapping.calendar_filter(row)

    async def UpdateCalendarFilter(
        self, request: pb.UpdateCalendarFilterRequest, context: Ctx
    ) -> pb.CalendarFilter:
        f = request.filter
        async with self.db.unit_of_work() as uow:
            row = await catalogue.update_filter(
                uow,
                request.id,
                f.name,
                list(f.provider_ids),
                list(f.service_ids),
                list(f.statuses),
                f.is_default,
            )
        return mapping.calendar_filter(row)

    async def DeleteCalendarFilter(
        self, request: pb.CalendarFilterRef, context: Ctx
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await catalogue.delete_filter(uow, request.id)
        return empty_pb2.Empty()

    # ── availability and appointments ───────────────────────────────────────────────────

    async def GetAvailability(
        self, request: pb.GetAvailabilityRequest, context: Ctx
    ) -> pb.GetAvailabilityResponse:
        if not request.HasField("service_id"):
            raise invalid("service_id", "The service_id field is required.", "required")
        async with self.db.reader() as uow:
            slots = await appointments.free_slots(
                uow,
                uow.scope.tenant_id,
                request.service_id,
                optional(request, "provider_id"),
                getattr(request, "from"),
                request.to,
                self.policy,
            )
        response = pb.GetAvailabilityResponse()
        mapping.fill_slots(response.items, slots)
        return response

    async def ListAppointments(
        self, request: pb.ListAppointmentsRequest, context: Ctx
    ) -> pb.ListAppointmentsResponse:
        first, last = appointments.checked_feed_range(
            optional(request, "from"), optional(request, "to")
        )
        async with self.db.reader() as uow:
            page = await appointments.store.feed(
                uow,
                first=first,
                last=last,
                provider_id=optional(request, "provider_id"),
                service_id=optional(request, "service_id"),
                status=optional(request, "status"),
                page=PageQuery.from_proto(request.page),
            )
        return pb.ListAppointmentsResponse(
            items=[mapping.appointment(a) for a in page.items], meta=page.meta()
        )

    async def GetAppointment(self, request: pb.AppointmentRef, context: Ctx) -> pb.Appointment:
        async with self.db.reader() as uow:
            return mapping.appointment(await appointments.get(uow, request.id))

    async def CreateAppointment(
        self, request: pb.CreateAppointmentRequest, context: Ctx
    ) -> pb.Appointment:
        if not request.HasField("service_id"):
            raise invalid("service_id", "The service_id field is required.", "required")
        contact_id = optional(request, "contact_id")
        async with self.db.unit_of_work() as uow:
            tenant_id = uow.scope.tenant_id
            await self.inbox.require_contact(tenant_id, contact_id)
            rows = await appointments.book(
                uow,
                appointments.Booking(
                    tenant_id=tenant_id,
                    service_id=request.service_id,
                    start=request.start,
                    provider_id=optional(request, "provider_id"),
                    contact_id=contact_id,
                    notes=request.notes,
                    occurrences=optional(request, "occurrences") or 1,
                    source="staff",
                    user_id=uow.principal.user_id or None,
                ),
                self.policy,
            )
        await self.google.push_appointments(self.db, rows)
        return mapping.appointment(rows[0])

    async def PatchAppointment(
        self, request: pb.PatchAppointmentRequest, context: Ctx
    ) -> pb.Appointment:
        changes = changed(masked_changes(request, appointments.DetailChanges))
        if "notes" in changes:
            if changes["notes"] is None:
                changes["notes"] = ""
            changes["notes"] = str(changes["notes"]).strip()
        async with self.db.unit_of_work() as uow:
            if changes.get("contact_id") is not None:
                await self.inbox.require_contact(uow.scope.tenant_id, int(changes["contact_id"]))
            row = await appointments.patch(uow, request.id, changes)
        return mapping.appointment(row)

    async def RescheduleAppointment(
        self, request: pb.RescheduleAppointmentRequest, context: Ctx
    ) -> pb.Appointment:
        async with self.db.unit_of_work() as uow:
            row = await appointments.reschedule(
                uow, request.id, request.start, optional(request, "provider_id"), self.policy
            )
        return mapping.appointment(row)

    async def CancelAppointment(
        self, request: pb.CancelAppointmentRequest, context: Ctx
    ) -> pb.Appointment:
        async with self.db.unit_of_work() as uow:
            row = await appointments.cancel(uow, request.id, request.reason)
            await offer_freed_slot(uow, row)
        return mapping.appointment(row)

    async def _transition(self, appointment_id: int, action: str) -> pb.Appointment:
        async with self.db.unit_of_work() as uow:
            row = await appointments.transition(uow, appointment_id, action)
        return mapping.appointment(row)

    async def MarkNoShow(self, request: pb.AppointmentRef, context: Ctx) -> pb.Appointment:
        return await self._transition(request.id, "no_show")

    async def CompleteAppointment(self, request: pb.AppointmentRef, context: Ctx) -> pb.Appointment:
        return await self._transition(request.id, "complete")

    async def ArriveAppointment(self, request: pb.AppointmentRef, context: Ctx) -> pb.Appointment:
        return await self._transition(request.id, "arrive")

    async def ApproveAppointment(self, request: pb.AppointmentRef, context: Ctx) -> pb.Appointment:
        return await self._transition(request.id, "approve")

    async def DeclineAppointment(self, request: pb.AppointmentRef, context: Ctx) -> pb.Appointment:
        return await self._transition(request.id, "decline")

    async def CreatePaymentLink(self, request: pb.AppointmentRef, context: Ctx) -> pb.Appointment:
        return mapping.appointment(await self.deposits.payment_link(self.db, request.id))

    # ── waitlist ────────────────────────────────────────────────────────────────────────

    async def ListWaitlist(
        self, request: pb.ListWaitlistRequest, context: Ctx
    ) -> pb.ListWaitlistResponse:
        async with self.db.reader() as uow:
            page = await waitlist_store.list_entries(uow, PageQuery.from_proto(request.page))
        return pb.ListWaitlistResponse(
            items=[mapping.waitlist_entry(e) for e in page.items], meta=page.meta()
        )

    async def DeleteWaitlistEntry(self, request: pb.WaitlistRef, context: Ctx) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await waitlist_store.delete_entry_or_404(uow, request.id)
        return empty_pb2.Empty()

    # ── Google Calendar ─────────────────────────────────────────────────────────────────

    async def GetGoogleLink(self, request: pb.GetGoogleLinkRequest, context: Ctx) -> pb.GoogleLink:
        return await self.google.link(self.db)

    async def GoogleConnect(
        self, request: pb.GoogleConnectRequest, context: Ctx
    ) -> pb.GoogleConnectResponse:
        return pb.GoogleConnectResponse(url=await self.google.connect_url(self.db))

    async def GoogleCallback(
        self, request: pb.GoogleCallbackRequest, context: Ctx
    ) -> pb.GoogleLink:
        return await self.google.callback(self.db, request.code, request.state, request.error)

    async def GoogleDisconnect(
        self, request: pb.GoogleDisconnectRequest, context: Ctx
    ) -> pb.GoogleLink:
        return await self.google.disconnect(self.db)
