"""SQL of the catalogue: services, resources, schedules, closures, holiday and reminder config,
calendar filters. Every query is tenant-scoped through the unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert

from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row, from_rows
from services.scheduling.store.tables import (
    calendar_filters,
    closures,
    default_schedules,
    holiday_configs,
    provider_schedules,
    reminder_configs,
    resources,
    services,
)


@dataclass(frozen=True)
class ServiceRow:
    id: int
    tenant_id: int
    name: str
    description: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    price_cents: int
    currency: str
    deposit_cents: int
    requires_approval: bool
    provider_ids: list[int]
    resource_ids: list[int]
    reminder_offsets: list[int] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ResourceRow:
    id: int
    tenant_id: int
    name: str
    capacity: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ScheduleRow:
    provider_id: int
    tenant_id: int
    timezone: str
    rules: list[dict[str, Any]]
    updated_at: datetime


@dataclass(frozen=True)
class DefaultScheduleRow:
    tenant_id: int
    timezone: str
    rules: list[dict[str, Any]]
    updated_at: datetime


@dataclass(frozen=True)
class ClosureRow:
    id: int
    tenant_id: int
    day: date
    reason: str
    source: str
    created_at: datetime


@dataclass(frozen=True)
class HolidayConfigRow:
    tenant_id: int
    block_holidays: bool
    country_code: str
    synced: bool
    synced_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class ReminderConfigRow:
    tenant_id: int
    offsets: list[int] | None
    updated_at: datetime


@dataclass(frozen=True)
class FilterRow:
    id: int
    tenant_id: int
    user_id: int
    name: str
    provider_ids: list[int]
    service_ids: list[int]
    statuses: list[str]
    is_default: bool
    created_at: datetime


SERVICES_ORDER = Keyset("scheduling.services", id=services.c.id)
RESOURCES_ORDER = Keyset("scheduling.resources", id=resources.c.id)
CLOSURES_ORDER = Keyset("scheduling.closures", id=closures.c.id, sort=closures.c.day)

# ── services ────────────────────────────────────────────────────────────────────────────────


async def list_services(uow: UnitOfWork, page: PageQuery) -> Page[ServiceRow]:
    rows = await paginate(uow.conn, uow.scope.select(services), SERVICES_ORDER, page)
    return rows.map(lambda row: from_row(ServiceRow, row))


async def get_service(uow: UnitOfWork, service_id: int, *, lock: bool = False) -> ServiceRow | None:
    query = uow.scope.select(services).where(services.c.id == service_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(ServiceRow, row) if row else None


async def get_service_of(uow: UnitOfWork, tenant_id: int, service_id: int) -> ServiceRow | None:
    query = uow.scope_of(tenant_id).select(services).where(services.c.id == service_id)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(ServiceRow, row) if row else None


async def insert_service(uow: UnitOfWork, values: dict[str, Any]) -> ServiceRow:
    now = uow.clock.now()
    row = (
        await uow.conn.execute(
            services.insert()
            .values(**uow.scope.row(**values, created_at=now, updated_at=now))
            .returning(*services.c)
        )
    ).one()
    return from_row(ServiceRow, row)


async def update_service(
    uow: UnitOfWork, service_id: int, values: dict[str, Any]
) -> ServiceRow | None:
    row = (
        await uow.conn.execute(
            uow.scope.update(services)
            .where(services.c.id == service_id)
            .values(**values, updated_at=uow.clock.now())
            .returning(*services.c)
        )
    ).one_or_none()
    return from_row(ServiceRow, row) if row else None


async def delete_service(uow: UnitOfWork, service_id: int) -> bool:
    result = await uow.conn.execute(uow.scope.delete(services).where(services.c.id == service_id))
    return bool(result.rowcount)


# ── resources ───────────────────────────────────────────────────────────────────────────────


async def list_resources(uow: UnitOfWork, page: PageQuery) -> Page[ResourceRow]:
    rows = await paginate(uow.conn, uow.scope.select(resources), RESOURCES_ORDER, page)
    return rows.map(lambda row: from_row(ResourceRow, row))


async def get_resource(uow: UnitOfWork, resource_id: int) -> ResourceRow | None:
    query = uow.scope.select(resources).where(resources.c.id == resource_id)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(ResourceRow, row) if row else None


async def resources_by_id(uow: UnitOfWork, ids: list[int]) -> list[ResourceRow]:
    if not ids:
        return []
    query = uow.scope.select(resources).where(resources.c.id.in_(ids)).order_by(resources.c.id)
    return from_rows(ResourceRow, await uow.conn.execute(query))


async def insert_resource(uow: UnitOfWork, name: str, capacity: int) -> ResourceRow:
    now = uow.clock.now()
    row = (
        await uow.conn.execute(
            resources.insert()
            .values(**uow.scope.row(name=name, capacity=capacity, created_at=now, updated_at=now))
            .returning(*resources.c)
        )
    ).one()
    return from_row(ResourceRow, row)


async def update_resource(
    uow: UnitOfWork, resource_id: int, name: str, capacity: int
) -> ResourceRow | None:
    row = (
        await uow.conn.execute(
            uow.scope.update(resources)
            .where(resources.c.id == resource_id)
            .values(name=name, capacity=capacity, updated_at=uow.clock.now())
            .returning(*resources.c)
        )
    ).one_or_none()
    return from_row(ResourceRow, row) if row else None


async def delete_resource(uow: UnitOfWork, resource_id: int) -> bool:
    result = await uow.conn.execute(
        uow.scope.delete(resources).where(resources.c.id == resource_id)
    )
    if not result.rowcount:
        return False
    await uow.conn.execute(
        uow.scope.update(services)
        .where(services.c.resource_ids.any(resource_id))
        .values(resource_ids=func.array_remove(services.c.resource_ids, resource_id))
    )
    return True


# ── schedules ───────────────────────────────────────────────────────────────────────────────


async def get_schedule(uow: UnitOfWork, provider_id: int) -> ScheduleRow | None:
    query = uow.scope.select(provider_schedules).where(
        provider_schedules.c.provider_id == provider_id
    )
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(ScheduleRow, row) if row else None


async def schedules_of(uow: UnitOfWork, provider_ids: list[int] | None = None) -> list[ScheduleRow]:
    query = uow.scope.select(provider_schedules).order_by(provider_schedules.c.provider_id)
    if provider_ids is not None:
        query = query.where(provider_schedules.c.provider_id.in_(provider_ids))
    return from_rows(ScheduleRow, await uow.conn.execute(query))


async def put_schedule(
    uow: UnitOfWork, provider_id: int, timezone: str, rules: list[dict[str, Any]]
) -> ScheduleRow:
    values = uow.scope.row(
        provider_id=provider_id, timezone=timezone, rules=rules, updated_at=uow.clock.now()
    )
    statement = insert(provider_schedules).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[provider_schedules.c.provider_id],
        set_={"timezone": timezone, "rules": rules, "updated_at": values["updated_at"]},
        where=provider_schedules.c.tenant_id == uow.scope.tenant_id,
    )
    row = (await uow.conn.execute(statement.returning(*provider_schedules.c))).one()
    return from_row(ScheduleRow, row)


async def get_default_schedule(uow: UnitOfWork) -> DefaultScheduleRow | None:
    row = (await uow.conn.execute(uow.scope.select(default_schedules))).one_or_none()
    return from_row(DefaultScheduleRow, row) if row else None


async def put_default_schedule(
    uow: UnitOfWork, timezone: str, rules: list[dict[str, Any]]
) -> DefaultScheduleRow:
    now = uow.clock.now()
    statement = insert(default_schedules).values(
        **uow.scope.row(timezone=timezone, rules=rules, updated_at=now)
    )
    statement = statement.on_conflict_do_update(
        index_elements=[default_schedules.c.tenant_id],
        set_={"timezone": timezone, "rules": rules, "updated_at": now},
    )
    row = (await uow.conn.execute(statement.returning(*default_schedules.c))).one()
    return from_row(DefaultScheduleRow, row)


# ── closures ────────────────────────────────────────────────────────────────────────────────


async def list_closures(
    uow: UnitOfWork, first: date | None, last: date | None, page: PageQuery
) -> Page[ClosureRow]:
    query = uow.scope.select(closures)
    if first is not None:
        query = query.where(closures.c.day >= first)
    if last is not None:
        query = query.where(closures.c.day <= last)
    rows = await paginate(uow.conn, query, CLOSURES_ORDER, page)
    return rows.map(lambda row: from_row(ClosureRow, row))


async def closed_days(uow: UnitOfWork, tenant_id: int, first: date, last: date) -> set[date]:
    query = (
        uow.scope_of(tenant_id)
        .select(closures, closures.c.day)
        .where(and_(closures.c.day >= first, closures.c.day <= last))
    )
    return set((await uow.conn.execute(query)).scalars())


async def add_closure(
    uow: UnitOfWork, tenant_id: int, day: date, reason: str, source: str
) -> ClosureRow:
    """Idempotent per (tenant, day, source): an existing closure is answered as it is."""
    statement = (
        insert(closures)
        .values(
            tenant_id=tenant_id,
            day=day,
            reason=reason,
            source=source,
            created_at=uow.clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "day", "source"])
        .returning(*closures.c)
    )
    row = (await uow.conn.execute(statement)).one_or_none()
    if row is None:
        query = (
            uow.scope_of(tenant_id)
            .select(closures)
            .where(and_(closures.c.day == day, closures.c.source == source))
        )
        row = (await uow.conn.execute(query)).one()
    return from_row(ClosureRow, row)


async def delete_closure(uow: UnitOfWork, closure_id: int) -> bool:
    result = await uow.conn.execute(uow.scope.delete(closures).where(closures.c.id == closure_id))
    return bool(result.rowcount)


async def drop_holidays_from(uow: UnitOfWork, tenant_id: int, first: date) -> None:
    await uow.conn.execute(
        uow.scope_of(tenant_id)
        .delete(closures)
        .where(and_(closures.c.source == "holiday", closures.c.day >= first))
    )


# ── holiday and reminder config ─────────────────────────────────────────────────────────────


async def get_holiday_config(uow: UnitOfWork, tenant_id: int) -> HolidayConfigRow | None:
    query = uow.scope_of(tenant_id).select(holiday_configs)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(HolidayConfigRow, row) if row else None


async def put_holiday_config(uow: UnitOfWork, tenant_id: int, **values: Any) -> HolidayConfigRow:
    now = uow.clock.now()
    values = {**values, "updated_at": now}
    statement = insert(holiday_configs).values({"attempts": 0, **values, "tenant_id": tenant_id})
    statement = statement.on_conflict_do_update(
        index_elements=[holiday_configs.c.tenant_id], set_=values
    )
    row = (await uow.conn.execute(statement.returning(*holiday_configs.c))).one()
    return from_row(HolidayConfigRow, row)


async def unsynced_holiday_tenants(uow: UnitOfWork, now: datetime, limit: int) -> list[int]:
    query = (
        select(holiday_configs.c.tenant_id)
        .where(
            holiday_configs.c.block_holidays,
            ~holiday_configs.c.synced,
            (holiday_configs.c.next_attempt_at.is_(None))
            | (holiday_configs.c.next_attempt_at <= now),
        )
        .order_by(holiday_configs.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await uow.conn.execute(query)).scalars())


async def get_reminder_config(uow: UnitOfWork, tenant_id: int) -> ReminderConfigRow | None:
    row = (await uow.conn.execute(uow.scope_of(tenant_id).select(reminder_configs))).one_or_none()
    return from_row(ReminderConfigRow, row) if row else None


async def put_reminder_config(uow: UnitOfWork, offsets: list[int] | None) -> ReminderConfigRow:
    now = uow.clock.now()
    statement = insert(reminder_configs).values(**uow.scope.row(offsets=offsets, updated_at=now))
    statement = statement.on_conflict_do_update(
        index_elements=[reminder_configs.c.tenant_id],
        set_={"offsets": offsets, "updated_at": now},
    )
    row = (await uow.conn.execute(statement.returning(*reminder_configs.c))).one()
    return from_row(ReminderConfigRow, row)


# ── calendar filters (each user's own) ──────────────────────────────────────────────────────


async def list_filters(uow: UnitOfWork, user_id: int) -> list[FilterRow]:
    query = (
        uow.scope.select(calendar_filters)
        .where(calendar_filters.c.user_id == user_id)
        .order_by(calendar_filters.c.id)
    )
    return from_rows(FilterRow, await uow.conn.execute(query))


async def count_filters(uow: UnitOfWork, user_id: int) -> int:
    query = uow.scope.select(calendar_filters, func.count()).where(
        calendar_filters.c.user_id == user_id
    )
    return int((await uow.conn.execute(query)).scalar_one())


async def clear_default_filter(uow: UnitOfWork, user_id: int) -> None:
    await uow.conn.execute(
        uow.scope.update(calendar_filters)
        .where(calendar_filters.c.user_id == user_id, calendar_filters.c.is_default)
        .values(is_default=False)
    )


async def insert_filter(uow: UnitOfWork, user_id: int, values: dict[str, Any]) -> FilterRow:
    row = (
        await uow.conn.execute(
            calendar_filters.insert()
            .values(**uow.scope.row(user_id=user_id, created_at=uow.clock.now(), **values))
            .returning(*calendar_filters.c)
        )
    ).one()
    return from_row(FilterRow, row)


async def update_filter(
    uow: UnitOfWork, user_id: int, filter_id: int, values: dict[str, Any]
) -> FilterRow | None:
    row = (
        await uow.conn.execute(
            uow.scope.update(calendar_filters)
            .where(calendar_filters.c.id == filter_id, calendar_filters.c.user_id == user_id)
            .values(**values)
            .returning(*calendar_filters.c)
        )
    ).one_or_none()
    return from_row(FilterRow, row) if row else None


async def delete_filter(uow: UnitOfWork, user_id: int, filter_id: int) -> bool:
    result = await uow.conn.execute(
        uow.scope.delete(calendar_filters).where(
            calendar_filters.c.id == filter_id, calendar_filters.c.user_id == user_id
        )
    )
    return bool(result.rowcount)


async def lock_user_filters(uow: UnitOfWork, user_id: int) -> None:
    """Serialises one user's default switch (the unique index is the last word)."""
    await uow.conn.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"filters:{user_id}", 0)))
    )
