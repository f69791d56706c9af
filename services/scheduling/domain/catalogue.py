"""Catalogue use cases: services, resources, provider schedules, the default schedule, closures,
reminder config and calendar filters. Owner-only writes are declared in the proto; here are the
rules of the data (and the 404 for ids of other tenants)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from services.kit.db import UnitOfWork
from services.kit.errors import conflict, forbidden, not_found
from services.kit.validation import Checker
from services.scheduling.clients.identity import Members
from services.scheduling.domain.inputs import (
    checked_date,
    checked_offsets,
    checked_rules,
    checked_timezone,
    rules_to_json,
)
from services.scheduling.store import catalogue as store

DEPOSITS_FEATURE = "booking_deposits"
# A deposit checkout's amount as billing takes it (services/billing/domain/payments.py).
MIN_DEPOSIT_CENTS = 100
MAX_DEPOSIT_CENTS = 100_000_000
STATUSES = (
    "pending_approval",
    "confirmed",
    "declined",
    "arrived",
    "completed",
    "no_show",
    "cancelled",
)


@dataclass(frozen=True)
class ServiceInput:
    name: str
    description: str
    duration_minutes: int | None
    buffer_before_minutes: int
    buffer_after_minutes: int
    price_cents: int
    currency: str
    deposit_cents: int
    requires_approval: bool
    provider_ids: list[int]
    resource_ids: list[int]
    reminder_offsets: list[Any] | None  # None: the workspace's config


async def _checked_service(uow: UnitOfWork, members: Members, data: ServiceInput) -> dict[str, Any]:
    check = Checker()
    name = check.text("name", data.name)
    description = check.text("description", data.description, required=False, max_len=2000)
    if data.duration_minutes is None:
        check.fail("duration_minutes", "The duration_minutes field is required.", "required")
    elif not 5 <= data.duration_minutes <= 1440:
        check.fail("duration_minutes", "The duration must be 5 to 1440 minutes.", "between")
    for field in ("buffer_before_minutes", "buffer_after_minutes"):
        if not 0 <= getattr(data, field) <= 480:
            check.fail(field, f"The {field} must be 0 to 480 minutes.", "between")
    if data.price_cents < 0:
        check.fail("price_cents", "The price may not be negative.", "min")
    if data.deposit_cents < 0:
        check.fail("deposit_cents", "The deposit may not be negative.", "min")
    elif 0 < data.deposit_cents < MIN_DEPOSIT_CENTS or data.deposit_cents > MAX_DEPOSIT_CENTS:
        # billing's checkout bounds: a deposit it would refuse is refused here, when it is set
        check.fail(
            "deposit_cents",
            f"The deposit is 0 (none) or {MIN_DEPOSIT_CENTS} to {MAX_DEPOSIT_CENTS} cents.",
            "between",
        )
    currency = check.currency("currency", data.currency or "BRL")
    offsets = None
    if data.reminder_offsets is not None:
        offsets = checked_offsets(check, "reminder_offsets", data.reminder_offsets)
    check.done()
    if data.deposit_cents > 0 and DEPOSITS_FEATURE not in uow.principal.features:
        raise forbidden("PLAN_FEATURE_REQUIRED", "Your plan does not include booking deposits.")
    provider_ids = sorted(set(data.provider_ids))
    found = await members.get(uow.scope.tenant_id, provider_ids)
    missing = [i for i in provider_ids if i not in found]
    for i in missing:
        check.fail("provider_ids", f"No member {i} in this workspace.", "exists")
    resource_ids = sorted(set(data.resource_ids))
    known = {r.id for r in await store.resources_by_id(uow, resource_ids)}
    for i in resource_ids:
        if i not in known:
            check.fail("resource_ids", f"No resource {i} in this workspace.", "exists")
    check.done()
    return {
        "name": name,
        "description": description,
        "duration_minutes": data.duration_minutes,
        "buffer_before_minutes": data.buffer_before_minutes,
        "buffer_after_minutes": data.buffer_after_minutes,
        "price_cents": data.price_cents,
        "currency": currency,
        "deposit_cents": data.deposit_cents,
        "requires_approval": data.requires_approval,
        "provider_ids": provider_ids,
        "resource_ids": resource_ids,
        "reminder_offsets": offsets,
    }


async def create_service(uow: UnitOfWork, members: Members, data: ServiceInput) -> store.ServiceRow:
    return await store.insert_service(uow, await _checked_service(uow, members, data))


async def update_service(
    uow: UnitOfWork, members: Members, service_id: int, data: ServiceInput
) -> store.ServiceRow:
    if await store.get_service(uow, service_id) is None:
        raise not_found("Service")
    values = await _checked_service(uow, members, data)
    row = await store.update_service(uow, service_id, values)
    if row is None:
        raise not_found("Service")
    return row


async def get_service(uow: UnitOfWork, service_id: int) -> store.ServiceRow:
    row = await store.get_service(uow, service_id)
    if row is None:
        raise not_found("Service")
    return row


async def delete_service(uow: UnitOfWork, service_id: int) -> None:
    if not await store.delete_service(uow, service_id):
        raise not_found("Service")


def _checked_resource(name: str, capacity: int | None) -> tuple[str, int]:
    check = Checker()
    name = check.text("name", name)
    capacity = 1 if capacity is None else capacity
    if not 1 <= capacity <= 1000:
        check.fail("capacity", "The capacity must be 1 to 1000.", "between")
    check.done()
    return name, capacity


async def create_resource(uow: UnitOfWork, name: str, capacity: int | None) -> store.ResourceRow:
    return await store.insert_resource(uow, *_checked_resource(name, capacity))


async def update_resource(
    uow: UnitOfWork, resource_id: int, name: str, capacity: int | None
) -> store.ResourceRow:
    row = await store.update_resource(uow, resource_id, *_checked_resource(name, capacity))
    if row is None:
        raise not_found("Resource")
    return row


async def get_resource(uow: UnitOfWork, resource_id: int) -> store.ResourceRow:
    row = await store.get_resource(uow, resource_id)
    if row is None:
        raise not_found("Resource")
    return row


async def delete_resource(uow: UnitOfWork, resource_id: int) -> None:
    if not await store.delete_resource(uow, resource_id):
        raise not_found("Resource")


# ── schedules ───────────────────────────────────────────────────────────────────────────────


async def put_provider_schedule(
    uow: UnitOfWork, members: Members, provider_id: int, timezone: str, rules: list[Any]
) -> store.ScheduleRow:
    """A full replace. The provider must be a member of the caller's workspace (else 404)."""
    check = Checker()
    tz = checked_timezone(check, "timezone", timezone)
    parsed = checked_rules(check, rules)
    check.done()
    assert tz is not None
    found = await members.get(uow.scope.tenant_id, [provider_id])
    if provider_id not in found:
        raise not_found("Provider")
    existing = await store.get_schedule(uow, provider_id)
    if existing is None and await _schedule_owned_elsewhere(uow, provider_id):
        raise not_found("Provider")
    return await store.put_schedule(uow, provider_id, tz.key, rules_to_json(parsed))


async def _schedule_owned_elsewhere(uow: UnitOfWork, provider_id: int) -> bool:
    from sqlalchemy import select

    from services.scheduling.store.tables import provider_schedules

    query = select(provider_schedules.c.tenant_id).where(
        provider_schedules.c.provider_id == provider_id
    )
    owner = await uow.conn.scalar(query)
    return owner is not None and owner != uow.scope.tenant_id


async def get_provider_schedule(
    uow: UnitOfWork, members: Members, provider_id: int
) -> store.ScheduleRow | None:
    """None: a member with no schedule yet (an empty one is shown); 404 for non-members."""
    row = await store.get_schedule(uow, provider_id)
    if row is not None:
        return row
    found = await members.get(uow.scope.tenant_id, [provider_id])
    if provider_id not in found:
        raise not_found("Provider")
    return None


async def put_default_schedule(
    uow: UnitOfWork, timezone: str, rules: list[Any]
) -> store.DefaultScheduleRow:
    check = Checker()
    tz = checked_timezone(check, "timezone", timezone)
    parsed = checked_rules(check, rules, weekly_open_only=True)
    check.done()
    assert tz is not None
    return await store.put_default_schedule(uow, tz.key, rules_to_json(parsed))


# ── closures ────────────────────────────────────────────────────────────────────────────────


async def create_closure(uow: UnitOfWork, day: str, reason: str) -> store.ClosureRow:
    check = Checker()
    parsed = checked_date(check, "date", day)
    reason = check.text("reason", reason, required=False)
    check.done()
    assert parsed is not None
    return await store.add_closure(uow, uow.scope.tenant_id, parsed, reason, "manual")


def checked_range(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    check = Checker()
    a = checked_date(check, "from", first) if first else None
    b = checked_date(check, "to", last) if last else None
    if a and b and b < a:
        check.fail("to", "The to date must not be before from.", "after_or_equal")
    check.done()
    return a, b


async def delete_closure(uow: UnitOfWork, closure_id: int) -> None:
    if not await store.delete_closure(uow, closure_id):
        raise not_found("Closure")


# ── reminder config ─────────────────────────────────────────────────────────────────────────


async def put_reminder_config(
    uow: UnitOfWork, offsets: list[Any] | None
) -> store.ReminderConfigRow:
    check = Checker()
    values = None if offsets is None else checked_offsets(check, "offsets", offsets)
    check.done()
    return await store.put_reminder_config(uow, values)


def effective_offsets(
    service_offsets: list[int] | None,
    config: store.ReminderConfigRow | None,
    default: tuple[int, ...],
) -> list[int]:
    """The service's override, else the workspace's config, else the system default."""
    return offsets_for(service_offsets, None if config is None else config.offsets, default)


def offsets_for(
    service_offsets: list[int] | None, config_offsets: list[int] | None, default: tuple[int, ...]
) -> list[int]:
    """`effective_offsets` given the config's offsets (None: no config, or null)."""
    if service_offsets is not None:
        return list(service_offsets)
    if config_offsets is not None:
        return list(config_offsets)
    return list(default)


# ── calendar filters ────────────────────────────────────────────────────────────────────────

# A member's saved filters are listed whole (no paging), so they are few.
MAX_CALENDAR_FILTERS = 50


def _checked_filter(
    name: str, provider_ids: list[int], service_ids: list[int], statuses: list[str]
) -> dict[str, Any]:
    check = Checker()
    name = check.text("name", name, max_len=100)
    for i, status in enumerate(statuses):
        if status not in STATUSES:
            check.fail(f"statuses.{i}", "Unknown status.", "in")
    check.done()
    return {
        "name": name,
        "provider_ids": sorted(set(provider_ids)),
        "service_ids": sorted(set(service_ids)),
        "statuses": sorted(set(statuses)),
    }


async def create_filter(
    uow: UnitOfWork,
    name: str,
    provider_ids: list[int],
    service_ids: list[int],
    statuses: list[str],
    is_default: bool,
) -> store.FilterRow:
    user_id = _user_id(uow)
    values = _checked_filter(name, provider_ids, service_ids, statuses)
    await store.lock_user_filters(uow, user_id)
    if await store.count_filters(uow, user_id) >= MAX_CALENDAR_FILTERS:
        raise conflict(
            "CALENDAR_FILTER_LIMIT_REACHED",
            f"You have {MAX_CALENDAR_FILTERS} saved filters already. Delete one first.",
        )
    if is_default:
        await store.clear_default_filter(uow, user_id)
    return await store.insert_filter(uow, user_id, {**values, "is_default": is_default})


async def update_filter(
    uow: UnitOfWork,
    filter_id: int,
    name: str,
    provider_ids: list[int],
    service_ids: list[int],
    statuses: list[str],
    is_default: bool,
) -> store.FilterRow:
    user_id = _user_id(uow)
    values = _checked_filter(name, provider_ids, service_ids, statuses)
    await store.lock_user_filters(uow, user_id)
    if is_default:
        await store.clear_default_filter(uow, user_id)
    row = await store.update_filter(uow, user_id, filter_id, {**values, "is_default": is_default})
    if row is None:
        raise not_found("Calendar filter")
    return row


async def delete_filter(uow: UnitOfWork, filter_id: int) -> None:
    if not await store.delete_filter(uow, _user_id(uow), filter_id):
        raise not_found("Calendar filter")


def _user_id(uow: UnitOfWork) -> int:
    """Calendar filters and Google links belong to a member; an API token acts as its maker."""
    if not uow.principal.user_id:
        raise forbidden("MEMBER_REQUIRED", "Only a workspace member has calendar filters.")
    return int(uow.principal.user_id)
