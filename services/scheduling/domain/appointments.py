"""Availability and appointments: booking that never double-books, the state machine, events.

Bookings of one provider (and of one resource) take turns under transaction-scoped advisory
locks, then check the calendar with the availability engine, then insert; the exclusion
constraint on (provider, block) is the last word, so even a path that forgot the lock cannot
double-book. Losers of a race answer 409 SLOT_TAKEN.

States (README "Appointment states"):

    pending_approval --approve--> confirmed --arrive--> arrived --complete--> completed
    pending_approval --decline--> declined      confirmed --complete--> completed
    confirmed --no-show--> no_show              pending_approval | confirmed --cancel--> cancelled
    pending_approval | confirmed --reschedule--> (same state, new time)

Anything else answers 409 INVALID_TRANSITION."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from asyncpg.exceptions import ExclusionViolationError
from google.protobuf.message import Message
from sqlalchemy.exc import DBAPIError

from plixa.scheduling.v1 import events_pb2
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, conflict, invalid, not_found
from services.kit.rows import UNSET, Unset
from services.kit.validation import Checker
from services.scheduling.domain import availability as engine
from services.scheduling.domain.catalogue import effective_offsets, offsets_for
from services.scheduling.domain.inputs import checked_instant, rules_from_json
from services.scheduling.store import appointments as store
from services.scheduling.store import catalogue as catalogue_store
from services.scheduling.store.appointments import AppointmentRow
from services.scheduling.store.catalogue import ServiceRow

MAX_RANGE_DAYS = 62

TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "approve": (frozenset({"pending_approval"}), "confirmed"),
    "decline": (frozenset({"pending_approval"}), "declined"),
    "arrive": (frozenset({"confirmed"}), "arrived"),
    "complete": (frozenset({"confirmed", "arrived"}), "completed"),
    "no_show": (frozenset({"confirmed"}), "no_show"),
    "cancel": (frozenset({"pending_approval", "confirmed"}), "cancelled"),
    "reschedule": (frozenset({"pending_approval", "confirmed"}), None),  # None: state kept
}
CHANGE_OF = {
    "approve": "approved",
    "decline": "declined",
    "arrive": "arrived",
    "complete": "completed",
    "no_show": "no_show",
}


@dataclass(frozen=True)
class Policy:
    """The workspace-independent limits from settings."""

    min_notice: timedelta
    horizon: timedelta
    default_reminders: tuple[int, ...]


def slot_taken() -> DomainError:
    return conflict("SLOT_TAKEN", "That time was just booked. Pick another slot.")


def slot_unavailable(message: str = "That time is not open for booking.") -> DomainError:
    return conflict("SLOT_UNAVAILABLE", message)


def invalid_transition(action: str, status: str) -> DomainError:
    return conflict(
        "INVALID_TRANSITION",
        f"An appointment that is {status.replace('_', ' ')} cannot be {action.replace('_', '-')}.",
    )


def next_status(action: str, status: str) -> str:
    """The state after `action`, or 409 INVALID_TRANSITION. Pure (the README's table)."""
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        raise invalid_transition(action, status)
    return target or status


# ── calendars ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Calendars:
    providers: list[engine.Provider]
    query: engine.Query


async def load_service(uow: UnitOfWork, tenant_id: int, service_id: int) -> ServiceRow:
    """The tenant's service; an unknown one (or another tenant's) is a 422 on service_id. The
    unit of work's principal carries the tenant (internal calls open it for theirs)."""
    assert uow.scope.tenant_id == tenant_id
    row = await catalogue_store.get_service(uow, service_id)
    if row is None:
        raise invalid("service_id", "No such service in this workspace.", "exists")
    return row


async def calendars(
    uow: UnitOfWork,
    tenant_id: int,
    service: ServiceRow,
    provider_ids: Sequence[int],
    first_day: date,
    last_day: date,
    policy: Policy,
    *,
    exclude_id: int = 0,
    seconds: bool = False,
) -> Calendars:
    """Everything the engine needs for these providers over these local days. With `seconds`,
    the providers' busy intervals come as epoch seconds (listing slots: thousands of them);
    a booking's check keeps exact datetimes."""
    schedules = await catalogue_store.schedules_of(uow, list(provider_ids))
    schedules = [s for s in schedules if s.tenant_id == tenant_id]
    providers = [
        engine.Provider(s.provider_id, ZoneInfo(s.timezone), rules_from_json(s.rules))
        for s in schedules
    ]
    lo, hi = _utc_bounds(first_day, last_day)
    ids = [p.provider_id for p in providers]
    if seconds and not exclude_id:
        in_seconds = await store.provider_block_seconds(uow, ids, lo, hi)
        providers = [
            engine.Provider(
                p.provider_id, p.timezone, p.rules, busy_seconds=in_seconds.get(p.provider_id, [])
            )
            for p in providers
        ]
    else:
        busy = await store.provider_blocks(uow, ids, lo, hi, exclude_id)
        providers = [
            engine.Provider(p.provider_id, p.timezone, p.rules, busy.get(p.provider_id, []))
            for p in providers
        ]
    # Closures a day around the range, and as far on as a late window's open time may run.
    closed = await catalogue_store.closed_days(
        uow,
        tenant_id,
        first_day - timedelta(days=1),
        last_day + timedelta(days=1 + engine.RUN_ON_DAYS),
    )
    query = await _query(uow, service, first_day, last_day, policy, closed, lo, hi, exclude_id)
    return Calendars(providers, query)


def _utc_bounds(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """UTC bounds wide enough for every time zone's local days, plus the buffers."""
    lo = datetime.combine(first_day, datetime.min.time(), UTC) - timedelta(days=2)
    hi = datetime.combine(last_day, datetime.min.time(), UTC) + timedelta(days=3)
    return lo, hi


async def _query(
    uow: UnitOfWork,
    service: ServiceRow,
    first_day: date,
    last_day: date,
    policy: Policy,
    closed: Iterable[date],
    lo: datetime,
    hi: datetime,
    exclude_id: int,
) -> engine.Query:
    """The engine's query; the service's resources and their bookings are read here."""
    loads = []
    if service.resource_ids:
        capacity = {
            r.id: r.capacity
            for r in await catalogue_store.resources_by_id(uow, list(service.resource_ids))
        }
        blocks = await store.resource_blocks(uow, list(capacity), lo, hi, exclude_id)
        loads = [engine.ResourceLoad(r, capacity[r], blocks[r]) for r in capacity]
    return engine.Query(
        duration=timedelta(minutes=service.duration_minutes),
        before=timedelta(minutes=service.buffer_before_minutes),
        after=timedelta(minutes=service.buffer_after_minutes),
        first_day=first_day,
        last_day=last_day,
        now=uow.clock.now(),
        min_notice=policy.min_notice,
        horizon=policy.horizon,
        closed_days=frozenset(closed),
        resources=loads,
    )


def checked_range(first: str, last: str) -> tuple[date, date]:
    check = Checker()
    from services.scheduling.domain.inputs import checked_date

    a = checked_date(check, "from", first)
    b = checked_date(check, "to", last)
    if a and b:
        if b < a:
            check.fail("to", "The to date must not be before from.", "after_or_equal")
        elif (b - a).days >= MAX_RANGE_DAYS:
            check.fail("to", f"At most {MAX_RANGE_DAYS} days at once.", "range")
    check.done()
    assert a is not None and b is not None
    return a, b


async def free_slots(
    uow: UnitOfWork,
    tenant_id: int,
    service_id: int,
    provider_id: int | None,
    first: str,
    last: str,
    policy: Policy,
) -> engine.FreeSlots:
    first_day, last_day = checked_range(first, last)
    assert uow.scope.tenant_id == tenant_id
    # One statement (the hot read): the service, the schedules, closures and busy intervals of
    # the same days and UTC bounds `calendars` reads.
    lo, hi = _utc_bounds(first_day, last_day)
    found = await store.availability_read(
        uow,
        tenant_id,
        service_id,
        provider_id,
        first_day - timedelta(days=1),
        last_day + timedelta(days=1),
        lo,
        hi,
    )
    if found is None:
        raise invalid("service_id", "No such service in this workspace.", "exists")
    service = found.service
    if provider_id is not None and provider_id not in service.provider_ids:
        raise invalid("provider_id", "That member does not give this service.", "exists")
    providers = [
        engine.Provider(
            p, ZoneInfo(timezone), rules_from_json(rules), busy_seconds=found.busy.get(p, [])
        )
        for p, timezone, rules in found.schedules
    ]
    query = await _query(uow, service, first_day, last_day, policy, found.closed, lo, hi, 0)
    return engine.free_slots_of(providers, query)


# ── booking ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Booking:
    tenant_id: int
    service_id: int
    start: str
    provider_id: int | None
    contact_id: int | None
    notes: str
    occurrences: int
    source: str  # "staff" | "ai"
    user_id: int | None


async def book(uow: UnitOfWork, request: Booking, policy: Policy) -> list[AppointmentRow]:
    """Books one appointment or a weekly series (all or nothing). Returns them in order.

    One statement per step (a booking is the hot write): the service with its providers'
    schedules and the reminder config, taking the advisory locks; the calendars of the
    candidates around each wanted time, with the closures; one insert per appointment, its
    reminders included. The exclusion constraint stays the last word."""
    check = Checker()
    notes = check.text("notes", request.notes, required=False, max_len=2000)
    if not 1 <= request.occurrences <= 52:
        check.fail("occurrences", "The occurrences must be 1 to 52.", "between")
    check.done()
    assert uow.scope.tenant_id == request.tenant_id
    # Locks every calendar the booking could touch; what follows decides with what is committed.
    context = await store.booking_context(
        uow, request.tenant_id, request.service_id, request.provider_id
    )
    if context is None:
        raise invalid("service_id", "No such service in this workspace.", "exists")
    service = context.service
    candidates = list(service.provider_ids)
    if request.provider_id is not None:
        if request.provider_id not in candidates:
            raise invalid("provider_id", "That member does not give this service.", "exists")
        candidates = [request.provider_id]
    if not candidates:
        raise slot_unavailable("Nobody gives this service yet.")
    schedules = context.schedules
    candidates = [p for p in candidates if p in schedules]
    if not candidates:
        raise slot_unavailable("Nobody who gives this service has working hours yet.")
    first = checked_instant(check, "start", request.start, ZoneInfo(schedules[candidates[0]][0]))
    check.done()
    assert first is not None
    starts = [first + timedelta(weeks=i) for i in range(request.occurrences)]
    chosen = await _first_free(
        uow, request.tenant_id, service, candidates, schedules, starts, policy
    )
    status = "pending_approval" if service.requires_approval else "confirmed"
    provider_tz = schedules[chosen][0]
    rows: list[AppointmentRow] = []
    series_id = None
    offsets = offsets_for(
        service.reminder_offsets, context.config_offsets, policy.default_reminders
    )
    for start in starts:
        values = _booking_values(service, chosen, start, provider_tz)
        values.update(
            tenant_id=request.tenant_id,
            contact_id=request.contact_id,
            status=status,
            notes=notes,
            source=request.source,
            series_id=series_id,
            deposit_cents=service.deposit_cents,
            deposit_status="pending" if service.deposit_cents else "none",
            created_by_user_id=request.user_id,
        )
        try:
            row = await store.insert_booking(uow, values, offsets)
        except ExclusionViolationError:
            # No savepoint: the lost race ends the whole booking (the unit of work rolls back).
            raise slot_taken() from None
        if request.occurrences > 1 and series_id is None:
            series_id = row.id
            row = await store.start_series(uow, row.id)
        rows.append(row)
        emit_created(uow, row, service)
    return rows


async def _first_free(
    uow: UnitOfWork,
    tenant_id: int,
    service: ServiceRow,
    candidates: list[int],
    schedules: dict[int, tuple[str, list[dict[str, object]]]],
    starts: list[datetime],
    policy: Policy,
) -> int:
    """The first candidate free at every start, read under the locks; else 409 SLOT_TAKEN when
    something is in the way of one of them, SLOT_UNAVAILABLE when none is open then. The
    windows and days read are those `calendars` reads around each start."""
    days_of = [start.date() for start in starts]
    windows = [
        (
            datetime.combine(day - timedelta(days=1), datetime.min.time(), UTC) - timedelta(days=2),
            datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(days=3),
        )
        for day in days_of
    ]
    busy, closed = await store.booking_calendar(
        uow,
        tenant_id,
        candidates,
        windows,
        min(days_of) - timedelta(days=2),
        max(days_of) + timedelta(days=1 + engine.RUN_ON_DAYS),
    )
    loads = []
    if service.resource_ids:
        capacity = {
            r.id: r.capacity
            for r in await catalogue_store.resources_by_id(uow, list(service.resource_ids))
        }
        blocks = await store.resource_blocks(
            uow, list(capacity), min(w[0] for w in windows), max(w[1] for w in windows)
        )
        loads = [engine.ResourceLoad(r, capacity[r], blocks[r]) for r in capacity]
    query = engine.Query(
        duration=timedelta(minutes=service.duration_minutes),
        before=timedelta(minutes=service.buffer_before_minutes),
        after=timedelta(minutes=service.buffer_after_minutes),
        first_day=min(days_of) - timedelta(days=1),
        last_day=max(days_of) + timedelta(days=1),
        now=uow.clock.now(),
        min_notice=policy.min_notice,
        horizon=policy.horizon,
        closed_days=frozenset(closed),
        resources=loads,
    )
    reasons: list[str] = []
    for provider_id in candidates:
        timezone, rules = schedules[provider_id]
        provider = engine.Provider(
            provider_id, ZoneInfo(timezone), rules_from_json(rules), busy[provider_id]
        )
        reason = next(
            (r for start in starts if (r := engine.unavailable_reason(provider, query, start))),
            None,
        )
        if reason is None:
            return provider_id
        reasons.append(reason)
    raise slot_taken() if "taken" in reasons else slot_unavailable()


def _booking_values(
    service: ServiceRow, provider_id: int, start: datetime, timezone: str
) -> dict[str, object]:
    duration = timedelta(minutes=service.duration_minutes)
    before = timedelta(minutes=service.buffer_before_minutes)
    after = timedelta(minutes=service.buffer_after_minutes)
    block_start, block_end = engine.block_of(start, duration, before, after)
    return {
        "service_id": service.id,
        "provider_id": provider_id,
        "resource_ids": list(service.resource_ids),
        "start_at": start,
        "end_at": start + duration,
        "block_start": block_start,
        "block_end": block_end,
        "timezone": timezone,
    }


def _is_exclusion(error: DBAPIError) -> bool:
    cause = getattr(error.orig, "__cause__", None)
    return isinstance(cause, ExclusionViolationError) or "appointments_no_double_booking" in str(
        error.orig
    )


async def _unavailable(
    uow: UnitOfWork,
    tenant_id: int,
    service: ServiceRow,
    provider_id: int,
    starts: list[datetime],
    policy: Policy,
    exclude_id: int = 0,
) -> str | None:
    for start in starts:
        day = start.date()
        cal = await calendars(
            uow,
            tenant_id,
            service,
            [provider_id],
            day - timedelta(days=1),
            day + timedelta(days=1),
            policy,
            exclude_id=exclude_id,
        )
        if not cal.providers:
            return "closed"
        reason = engine.unavailable_reason(cal.providers[0], cal.query, start)
        if reason is not None:
            return reason
    return None


# ── changes ─────────────────────────────────────────────────────────────────────────────────


async def get(uow: UnitOfWork, appointment_id: int, *, lock: bool = False) -> AppointmentRow:
    row = await store.get_appointment(uow, appointment_id, lock=lock)
    if row is None:
        raise not_found("Appointment")
    return row


async def transition(uow: UnitOfWork, appointment_id: int, action: str) -> AppointmentRow:
    row = await get(uow, appointment_id, lock=True)
    status = next_status(action, row.status)
    row = await store.update_appointment(uow, row.id, row.tenant_id, {"status": status})
    if status in ("declined",):
        await store.drop_reminders(uow, row.id)
    emit_updated(uow, row, await _service_name(uow, row), CHANGE_OF[action])
    return row


async def cancel(uow: UnitOfWork, appointment_id: int, reason: str) -> AppointmentRow:
    check = Checker()
    reason = check.text("reason", reason, required=False, max_len=500)
    check.done()
    row = await get(uow, appointment_id, lock=True)
    next_status("cancel", row.status)
    row = await store.update_appointment(
        uow, row.id, row.tenant_id, {"status": "cancelled", "cancel_reason": reason}
    )
    await store.drop_reminders(uow, row.id)
    uow.emit(
        "scheduling.appointment.cancelled",
        events_pb2.AppointmentCancelled(
            appointment=snapshot(row, await _service_name(uow, row)),
            reason=reason,
            occurred_at=uow.clock.now(),
        ),
        row.tenant_id,
    )
    return row


async def reschedule(
    uow: UnitOfWork, appointment_id: int, start: str, provider_id: int | None, policy: Policy
) -> AppointmentRow:
    row = await get(uow, appointment_id, lock=True)
    next_status("reschedule", row.status)
    service = await catalogue_store.get_service(uow, row.service_id)
    if service is None:
        raise slot_unavailable("The service of this appointment no longer exists.")
    target = provider_id if provider_id is not None else row.provider_id
    if target != row.provider_id and target not in service.provider_ids:
        raise invalid("provider_id", "That member does not give this service.", "exists")
    schedule = await catalogue_store.get_schedule(uow, target)
    if schedule is None:
        raise slot_unavailable("That member has no working hours yet.")
    check = Checker()
    new_start = checked_instant(check, "start", start, ZoneInfo(schedule.timezone))
    check.done()
    assert new_start is not None
    await store.lock_calendars(uow, [target], list(service.resource_ids))
    reason = await _unavailable(
        uow, row.tenant_id, service, target, [new_start], policy, exclude_id=row.id
    )
    if reason is not None:
        raise slot_taken() if reason == "taken" else slot_unavailable()
    previous = row.start_at
    values = _booking_values(service, target, new_start, schedule.timezone)
    try:
        row = await store.update_appointment(uow, row.id, row.tenant_id, values)
    except DBAPIError as error:
        if _is_exclusion(error):
            raise slot_taken() from None
        raise
    config = await catalogue_store.get_reminder_config(uow, row.tenant_id)
    offsets = effective_offsets(service.reminder_offsets, config, policy.default_reminders)
    await store.replace_reminders(uow, row, offsets, uow.clock.now())
    emit_updated(uow, row, service.name, "rescheduled", previous)
    return row


async def patch(uow: UnitOfWork, appointment_id: int, changes: dict[str, object]) -> AppointmentRow:
    row = await get(uow, appointment_id, lock=True)
    if not changes:
        return row
    row = await store.update_appointment(uow, row.id, row.tenant_id, changes)
    emit_updated(uow, row, await _service_name(uow, row), "details")
    return row


# ── events ──────────────────────────────────────────────────────────────────────────────────


async def _service_name(uow: UnitOfWork, row: AppointmentRow) -> str:
    from services.scheduling.store.tables import services

    name = await uow.conn.scalar(
        uow.scope_of(row.tenant_id)
        .select(services, services.c.name)
        .where(services.c.id == row.service_id)
    )
    return str(name or "")


def snapshot(row: AppointmentRow, service_name: str) -> events_pb2.AppointmentSnapshot:
    return events_pb2.AppointmentSnapshot(
        id=row.id,
        tenant_id=row.tenant_id,
        service_id=row.service_id,
        service_name=service_name,
        provider_id=row.provider_id,
        contact_id=row.contact_id or 0,
        start_at=row.start_at,
        end_at=row.end_at,
        timezone=row.timezone,
        status=row.status,
        notes=row.notes,
        source=row.source,
        cancel_reason=row.cancel_reason or "",
        deposit_status=row.deposit_status,
        series_id=row.series_id or 0,
        resource_ids=row.resource_ids,
    )


def emit_created(uow: UnitOfWork, row: AppointmentRow, service: ServiceRow) -> None:
    _emit(
        uow,
        "scheduling.appointment.created",
        events_pb2.AppointmentCreated(
            appointment=snapshot(row, service.name), occurred_at=uow.clock.now()
        ),
        row.tenant_id,
    )


def emit_updated(
    uow: UnitOfWork,
    row: AppointmentRow,
    service_name: str,
    change: str,
    previous_start: datetime | None = None,
) -> None:
    event = events_pb2.AppointmentUpdated(
        appointment=snapshot(row, service_name), change=change, occurred_at=uow.clock.now()
    )
    if previous_start is not None:
        event.previous_start_at.FromDatetime(previous_start)
    _emit(uow, "scheduling.appointment.updated", event, row.tenant_id)


def _emit(uow: UnitOfWork, subject: str, message: Message, tenant_id: int) -> None:
    uow.emit(subject, message, tenant_id)


@dataclass
class DetailChanges:
    """What PATCH may change (only the keys sent)."""

    contact_id: int | Unset | None = UNSET
    notes: str | Unset | None = UNSET


def checked_feed_range(
    first: str | None, last: str | None
) -> tuple[datetime | None, datetime | None]:
    """The feed's bounds: dates (UTC midnight; `to` as a date includes that day) or instants."""
    check = Checker()
    lo = _feed_bound(check, "from", first, end=False)
    hi = _feed_bound(check, "to", last, end=True)
    if lo and hi and hi < lo:
        check.fail("to", "The to must not be before from.", "after_or_equal")
    check.done()
    return lo, hi


def _feed_bound(check: Checker, field: str, value: str | None, *, end: bool) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    if len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            check.fail(field, f"The {field} must be a date or an ISO-8601 date-time.", "date")
            return None
        moment = datetime.combine(day, datetime.min.time(), UTC)
        return moment + timedelta(days=1) if end else moment
    return checked_instant(check, field, value, ZoneInfo("UTC"))
