"""SQL of appointments, their reminders, busy times and the locks that keep bookings apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text

from services.kit import fastsql
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row, from_rows
from services.scheduling.store.catalogue import ServiceRow
from services.scheduling.store.tables import appointments, reminders

LIVE = ("pending_approval", "confirmed", "arrived", "completed", "no_show")
FEED_ORDER = Keyset("scheduling.appointments", id=appointments.c.id, sort=appointments.c.start_at)


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    tenant_id: int
    service_id: int
    provider_id: int
    contact_id: int | None
    resource_ids: list[int]
    start_at: datetime
    end_at: datetime
    block_start: datetime
    block_end: datetime
    timezone: str
    status: str
    notes: str
    source: str
    series_id: int | None
    cancel_reason: str | None
    deposit_cents: int
    deposit_status: str
    payment_url: str | None
    checkout_id: str | None
    google_event_id: str | None
    created_by_user_id: int | None
    created_at: datetime
    updated_at: datetime


async def lock_calendars(uow: UnitOfWork, provider_ids: list[int], resource_ids: list[int]) -> None:
    """Transaction-scoped advisory locks on each provider's and resource's calendar, always in
    the same order, so concurrent bookings of one calendar take turns (no deadlock) and each
    sees the ones committed before it. The exclusion constraint still has the last word."""
    for key in calendar_keys(provider_ids, resource_ids):
        await uow.conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key}
        )


def calendar_keys(provider_ids: list[int], resource_ids: list[int]) -> list[str]:
    return sorted(
        [f"scheduling:provider:{p}" for p in set(provider_ids)]
        + [f"scheduling:resource:{r}" for r in set(resource_ids)]
    )


# Hot reads of availability and booking (services/kit/fastsql.py): plain SQL, prepared once.
PROVIDER_BLOCKS = """
SELECT provider_id, block_start, block_end FROM scheduling.appointments
 WHERE provider_id = ANY($1::bigint[]) AND status = ANY($2::text[])
   AND block_start < $4 AND block_end > $3 AND id <> $5
UNION ALL
SELECT provider_id, start_at, end_at FROM scheduling.busy_intervals
 WHERE provider_id = ANY($1::bigint[]) AND start_at < $4 AND end_at > $3
"""
# The same intervals for availability, as epoch seconds (floored, as int(datetime.timestamp())
# truncates them) gathered into two arrays per provider: decoding thousands of timestamptz into
# datetimes, one Record each, cost more than the engine itself. date_part (a double, exact to
# the second at these magnitudes) takes half the time of extract's numeric.
PROVIDER_BLOCK_SECONDS = """
SELECT provider_id, array_agg(s), array_agg(e) FROM (
  SELECT provider_id, floor(date_part('epoch', block_start))::bigint AS s,
         floor(date_part('epoch', block_end))::bigint AS e
    FROM scheduling.appointments
   WHERE provider_id = ANY($1::bigint[]) AND status = ANY($2::text[])
     AND block_start < $4 AND block_end > $3
  UNION ALL
  SELECT provider_id, floor(date_part('epoch', start_at))::bigint,
         floor(date_part('epoch', end_at))::bigint
    FROM scheduling.busy_intervals
   WHERE provider_id = ANY($1::bigint[]) AND start_at < $4 AND end_at > $3
) AS busy GROUP BY provider_id
"""
RESOURCE_BLOCKS = """
SELECT resource_ids, block_start, block_end FROM scheduling.appointments
 WHERE resource_ids && $1::bigint[] AND status = ANY($2::text[])
   AND block_start < $4 AND block_end > $3 AND id <> $5
"""


async def provider_blocks(
    uow: UnitOfWork, provider_ids: list[int], lo: datetime, hi: datetime, exclude_id: int = 0
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Live bookings' blocks and outside commitments (Google) per provider, overlapping
    [lo, hi)."""
    out: dict[int, list[tuple[datetime, datetime]]] = {p: [] for p in provider_ids}
    if not provider_ids:
        return out
    rows = await fastsql.fetch(uow, PROVIDER_BLOCKS, provider_ids, list(LIVE), lo, hi, exclude_id)
    for provider_id, start, end in rows:
        out[provider_id].append((start, end))
    return out


async def provider_block_seconds(
    uow: UnitOfWork, provider_ids: list[int], lo: datetime, hi: datetime
) -> dict[int, list[tuple[int, int]]]:
    """`provider_blocks` in epoch seconds, for listing free slots."""
    if not provider_ids:
        return {}
    rows = await fastsql.fetch(uow, PROVIDER_BLOCK_SECONDS, provider_ids, list(LIVE), lo, hi)
    return {provider_id: list(zip(starts, ends, strict=True)) for provider_id, starts, ends in rows}


async def resource_blocks(
    uow: UnitOfWork, resource_ids: list[int], lo: datetime, hi: datetime, exclude_id: int = 0
) -> dict[int, list[tuple[datetime, datetime]]]:
    out: dict[int, list[tuple[datetime, datetime]]] = {r: [] for r in resource_ids}
    if not resource_ids:
        return out
    rows = await fastsql.fetch(uow, RESOURCE_BLOCKS, resource_ids, list(LIVE), lo, hi, exclude_id)
    for used, start, end in rows:
        for r in used:
            if r in out:
                out[r].append((start, end))
    return out


async def insert_appointment(uow: UnitOfWork, values: dict[str, Any]) -> AppointmentRow:
    now = uow.clock.now()
    row = (
        await uow.conn.execute(
            appointments.insert()
            .values(**values, created_at=now, updated_at=now)
            .returning(*appointments.c)
        )
    ).one()
    return from_row(AppointmentRow, row)


async def get_appointment(
    uow: UnitOfWork, appointment_id: int, tenant_id: int | None = None, *, lock: bool = False
) -> AppointmentRow | None:
    scope = uow.scope_of(tenant_id) if tenant_id is not None else uow.scope
    query = scope.select(appointments).where(appointments.c.id == appointment_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(AppointmentRow, row) if row else None


async def update_appointment(
    uow: UnitOfWork, appointment_id: int, tenant_id: int, values: dict[str, Any]
) -> AppointmentRow:
    row = (
        await uow.conn.execute(
            uow.scope_of(tenant_id)
            .update(appointments)
            .where(appointments.c.id == appointment_id)
            .values(**values, updated_at=uow.clock.now())
            .returning(*appointments.c)
        )
    ).one()
    return from_row(AppointmentRow, row)


async def feed(
    uow: UnitOfWork,
    *,
    first: datetime | None,
    last: datetime | None,
    provider_id: int | None,
    service_id: int | None,
    status: str | None,
    page: PageQuery,
) -> Page[AppointmentRow]:
    query = uow.scope.select(appointments)
    if first is not None:
        query = query.where(appointments.c.end_at > first)
    if last is not None:
        query = query.where(appointments.c.start_at < last)
    if provider_id is not None:
        query = query.where(appointments.c.provider_id == provider_id)
    if service_id is not None:
        query = query.where(appointments.c.service_id == service_id)
    if status is not None:
        query = query.where(appointments.c.status == status)
    rows = await paginate(uow.conn, query, FEED_ORDER, page)
    return rows.map(lambda row: from_row(AppointmentRow, row))


# ── reminders ───────────────────────────────────────────────────────────────────────────────


async def replace_reminders(
    uow: UnitOfWork,
    appointment: AppointmentRow,
    offsets: list[int],
    now: datetime,
    *,
    fresh: bool = False,
) -> None:
    """Pending reminders follow the appointment: dropped and planned again from its start.
    Offsets already past are not planned (a late booking gets no stale reminder); sent ones
    stay as they are, so a reschedule never repeats a reminder that went out."""

    sent: set[int] = set()
    if not fresh:  # a new appointment has none yet
        await uow.conn.execute(
            delete(reminders).where(
                reminders.c.appointment_id == appointment.id, reminders.c.status == "pending"
            )
        )
        sent = set(
            (
                await uow.conn.execute(
                    select(reminders.c.offset_minutes).where(
                        reminders.c.appointment_id == appointment.id
                    )
                )
            ).scalars()
        )
    rows = []
    for offset in offsets:
        due = appointment.start_at - timedelta(minutes=offset)
        if due <= now or offset in sent:
            continue
        rows.append(
            {
                "tenant_id": appointment.tenant_id,
                "appointment_id": appointment.id,
                "offset_minutes": offset,
                "due_at": due,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due,
            }
        )
    if rows:
        await uow.conn.execute(reminders.insert(), rows)


async def drop_reminders(uow: UnitOfWork, appointment_id: int) -> None:
    await uow.conn.execute(
        delete(reminders).where(
            reminders.c.appointment_id == appointment_id, reminders.c.status == "pending"
        )
    )


@dataclass(frozen=True)
class DueReminder:
    id: int
    tenant_id: int
    appointment_id: int
    offset_minutes: int
    attempts: int


async def claim_due_reminders(uow: UnitOfWork, now: datetime, limit: int) -> list[DueReminder]:
    """Due rows, locked for this transaction; another replica skips them."""
    query = (
        select(reminders)
        .where(reminders.c.status == "pending", reminders.c.next_attempt_at <= now)
        .order_by(reminders.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return from_rows(DueReminder, await uow.conn.execute(query))


async def finish_reminder(
    uow: UnitOfWork,
    reminder_id: int,
    status: str,
    now: datetime,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    values: dict[str, Any] = {"attempts": reminders.c.attempts + 1, "last_error": error}
    if status == "sent":
        values |= {"status": "sent", "sent_at": now}
    elif retry_at is not None:
        values |= {"next_attempt_at": retry_at}
    else:
        values |= {"status": "failed"}
    await uow.conn.execute(reminders.update().where(reminders.c.id == reminder_id).values(values))


async def reminders_of(uow: UnitOfWork, appointment_id: int) -> list[dict[str, Any]]:
    rows = await uow.conn.execute(
        select(reminders).where(reminders.c.appointment_id == appointment_id)
    )
    return [dict(r._mapping) for r in rows]


def overlapping(lo: datetime, hi: datetime) -> Any:
    return and_(appointments.c.block_start < hi, appointments.c.block_end > lo)


__all__ = ["LIVE", "AppointmentRow", "func", "or_"]


# ── the booking path (services/kit/fastsql.py: one statement per step) ─────────────────────
# A booking used to take about 15 round trips; it now takes BEGIN, the context, the lock, the
# calendar, the insert (with its reminders), the outbox row and COMMIT.


@dataclass(frozen=True)
class BookingContext:
    """What a booking reads as it takes its locks: the service, the schedules of its providers
    (in this tenant) and the workspace's reminder offsets (None: no config, or null)."""

    service: ServiceRow
    schedules: dict[int, tuple[str, list[dict[str, Any]]]]  # provider id → (time zone, rules)
    config_offsets: list[int] | None


# The service, then the advisory locks of every calendar the booking may touch (the asked
# provider's, else all the service's, and its resources'), taken in the order `lock_calendars`
# takes them (sorted keys; "C": code point order, as Python sorts): one round trip less per
# booking. Reading the calendar comes in the next statement, whose snapshot follows the locks.
# The wanted providers' (`w.ids`) schedules as JSON text: [[provider id, time zone, rules], …].
WANTED_SCHEDULES = """(SELECT json_agg(json_build_array(ps.provider_id, ps.timezone, ps.rules)
                   ORDER BY ps.provider_id)::text
     FROM scheduling.provider_schedules ps
    WHERE ps.tenant_id = s.tenant_id AND ps.provider_id = ANY(w.ids))"""
CALENDAR_KEYS = """
  ARRAY(SELECT 'scheduling:provider:' || p FROM unnest(w.ids) AS p)
  || ARRAY(SELECT 'scheduling:resource:' || r FROM unnest(s.resource_ids) AS r)
"""
BOOKING_CONTEXT = f"""
SELECT {fastsql.select_list(ServiceRow, "s")},
  {WANTED_SCHEDULES},
  (SELECT rc.offsets FROM scheduling.reminder_configs rc WHERE rc.tenant_id = s.tenant_id),
  (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
     FROM unnest((SELECT array_agg(DISTINCT x ORDER BY x)
                    FROM (SELECT y COLLATE "C" AS x FROM unnest({CALENDAR_KEYS}) AS y) AS keys
                 )) AS k)
  FROM scheduling.services s
 CROSS JOIN LATERAL (
   SELECT CASE WHEN $3::bigint IS NULL THEN s.provider_ids ELSE ARRAY[$3::bigint] END AS ids
 ) AS w
 WHERE s.tenant_id = $1 AND s.id = $2
"""


async def booking_context(
    uow: UnitOfWork, tenant_id: int, service_id: int, provider_id: int | None
) -> BookingContext | None:
    """With `provider_id`, only that provider's schedule and lock (the one the booking asks
    for). The locks are held until the unit of work ends."""
    row = await fastsql.fetchrow(uow, BOOKING_CONTEXT, tenant_id, service_id, provider_id)
    if row is None:
        return None
    width = fastsql.width(ServiceRow)
    schedules = {
        provider_id: (timezone, rules)
        for provider_id, timezone, rules in json.loads(row[width] or "[]")
    }
    return BookingContext(fastsql.take(ServiceRow, row), schedules, row[width + 1])


# Busy intervals of the providers around each wanted time (a window per occurrence), and the
# tenant's closures between two days: busy rows have no day, the closure rows only a day.
BOOKING_CALENDAR = """
WITH w AS (SELECT * FROM unnest($3::timestamptz[], $4::timestamptz[]) AS w (lo, hi))
SELECT a.provider_id, a.block_start, a.block_end, NULL::date
  FROM w, LATERAL (
    SELECT provider_id, block_start, block_end FROM scheduling.appointments
     WHERE provider_id = ANY($1::bigint[]) AND status = ANY($2::text[])
       AND block_start < w.hi AND block_end > w.lo) AS a
UNION ALL
SELECT b.provider_id, b.start_at, b.end_at, NULL
  FROM w, LATERAL (
    SELECT provider_id, start_at, end_at FROM scheduling.busy_intervals
     WHERE provider_id = ANY($1::bigint[]) AND start_at < w.hi AND end_at > w.lo) AS b
UNION ALL
SELECT NULL, NULL, NULL, day FROM scheduling.closures
 WHERE tenant_id = $5 AND day >= $6 AND day <= $7
"""


async def booking_calendar(
    uow: UnitOfWork,
    tenant_id: int,
    provider_ids: list[int],
    windows: list[tuple[datetime, datetime]],
    first_day: date,
    last_day: date,
) -> tuple[dict[int, list[tuple[datetime, datetime]]], set[date]]:
    """Per provider the live bookings' blocks and busy times overlapping any window (an
    interval may come twice when windows overlap: harmless), and the closed days."""
    rows = await fastsql.fetch(
        uow,
        BOOKING_CALENDAR,
        provider_ids,
        list(LIVE),
        [lo for lo, _ in windows],
        [hi for _, hi in windows],
        tenant_id,
        first_day,
        last_day,
    )
    busy: dict[int, list[tuple[datetime, datetime]]] = {p: [] for p in provider_ids}
    closed: set[date] = set()
    for provider_id, start, end, day in rows:
        if day is not None:
            closed.add(day)
        else:
            busy[provider_id].append((start, end))
    return busy, closed


INSERTED = (
    "tenant_id, service_id, provider_id, contact_id, resource_ids, start_at, end_at,"
    " block_start, block_end, timezone, status, notes, source, series_id, deposit_cents,"
    " deposit_status, created_by_user_id"
)
INSERT_BOOKING = f"""
WITH a AS (
  INSERT INTO scheduling.appointments ({INSERTED}, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)
  RETURNING *
), r AS (
  INSERT INTO scheduling.reminders (tenant_id, appointment_id, offset_minutes, due_at, status,
                                    attempts, next_attempt_at)
  SELECT a.tenant_id, a.id, x.o, x.d, 'pending', 0, x.d
    FROM a, unnest($19::int[], $20::timestamptz[]) AS x (o, d)
)
SELECT {fastsql.select_list(AppointmentRow, "a")} FROM a
"""
SET_SERIES = f"""
UPDATE scheduling.appointments a SET series_id = a.id, updated_at = $2 WHERE a.id = $1
RETURNING {fastsql.select_list(AppointmentRow, "a")}
"""


async def insert_booking(
    uow: UnitOfWork, values: dict[str, Any], reminder_offsets: list[int]
) -> AppointmentRow:
    """The appointment and its pending reminders in one statement. Offsets already past are not
    planned (as `replace_reminders` does). A violated exclusion constraint raises asyncpg's
    ExclusionViolationError."""
    now = uow.clock.now()
    start: datetime = values["start_at"]
    offsets: list[int] = []
    dues: list[datetime] = []
    for offset in reminder_offsets:
        due = start - timedelta(minutes=offset)
        if due > now:
            offsets.append(offset)
            dues.append(due)
    row = await fastsql.fetchrow(
        uow,
        INSERT_BOOKING,
        *(values[name.strip()] for name in INSERTED.split(",")),
        now,
        offsets,
        dues,
    )
    assert row is not None
    return fastsql.take(AppointmentRow, row)


async def start_series(uow: UnitOfWork, appointment_id: int) -> AppointmentRow:
    """The first booking of a series names the series (its own id)."""
    row = await fastsql.fetchrow(uow, SET_SERIES, appointment_id, uow.clock.now())
    assert row is not None
    return fastsql.take(AppointmentRow, row)


# ── the availability read (one statement) ──────────────────────────────────────────────────


@dataclass(frozen=True)
class AvailabilityRead:
    """Everything availability reads, but resources: the service, the schedules of the wanted
    providers (in this tenant), the closed days, and the busy intervals (epoch seconds)."""

    service: ServiceRow
    schedules: list[tuple[int, str, list[dict[str, Any]]]]  # (provider id, time zone, rules)
    closed: list[date]
    busy: dict[int, list[tuple[int, int]]]


# The wanted providers are the service's, or the one asked for. The busy intervals come as three
# parallel arrays (one aggregate node: the same row order in each), as PROVIDER_BLOCK_SECONDS.
AVAILABILITY_READ = f"""
SELECT {fastsql.select_list(ServiceRow, "s")},
  {WANTED_SCHEDULES},
  ARRAY(SELECT c.day FROM scheduling.closures c
         WHERE c.tenant_id = s.tenant_id AND c.day >= $5 AND c.day <= $6),
  b.p, b.s, b.e
  FROM scheduling.services s
 CROSS JOIN LATERAL (
   SELECT CASE WHEN $3::bigint IS NULL THEN s.provider_ids ELSE ARRAY[$3::bigint] END AS ids
 ) AS w
 CROSS JOIN LATERAL (
   SELECT array_agg(x.p) AS p, array_agg(x.s) AS s, array_agg(x.e) AS e FROM (
     SELECT provider_id AS p, floor(date_part('epoch', block_start))::bigint AS s,
            floor(date_part('epoch', block_end))::bigint AS e
       FROM scheduling.appointments
      WHERE provider_id = ANY(w.ids) AND status = ANY($4::text[])
        AND block_start < $8 AND block_end > $7
     UNION ALL
     SELECT provider_id, floor(date_part('epoch', start_at))::bigint,
            floor(date_part('epoch', end_at))::bigint
       FROM scheduling.busy_intervals
      WHERE provider_id = ANY(w.ids) AND start_at < $8 AND end_at > $7
   ) AS x
 ) AS b
 WHERE s.tenant_id = $1 AND s.id = $2
"""


async def availability_read(
    uow: UnitOfWork,
    tenant_id: int,
    service_id: int,
    provider_id: int | None,
    closed_from: date,
    closed_to: date,
    lo: datetime,
    hi: datetime,
) -> AvailabilityRead | None:
    row = await fastsql.fetchrow(
        uow,
        AVAILABILITY_READ,
        tenant_id,
        service_id,
        provider_id,
        list(LIVE),
        closed_from,
        closed_to,
        lo,
        hi,
    )
    if row is None:
        return None
    at = fastsql.width(ServiceRow)
    schedules = [(p, tz, rules) for p, tz, rules in json.loads(row[at] or "[]")]
    busy: dict[int, list[tuple[int, int]]] = {}
    for p, start, end in zip(row[at + 2] or (), row[at + 3] or (), row[at + 4] or (), strict=True):
        found = busy.get(p)
        if found is None:
            busy[p] = [(start, end)]
        else:
            found.append((start, end))
    return AvailabilityRead(fastsql.take(ServiceRow, row), schedules, row[at + 1], busy)
