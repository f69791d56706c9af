"""Who takes new conversations. A member's switch says what they want; heartbeats say whether
they are really there. Switch on with heartbeats stopped for longer than the timeout is "away".
Every change of status is announced once (identity.availability.changed) for inbox's routing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from plixa.identity.v1 import events_pb2
from services.identity.domain.models import Presence
from services.identity.store import availability as store
from services.identity.store.availability import PresenceChanges
from services.kit.db import UnitOfWork
from services.kit.errors import invalid
from services.kit.paging import Page, PageQuery


@dataclass(frozen=True)
class MemberAvailability:
    user_id: int
    name: str
    is_available: bool
    status: str
    last_seen_at: datetime | None


def status_of(row: Presence, now: datetime, timeout: timedelta) -> str:
    if not row.is_available:
        return "unavailable"
    if row.last_heartbeat_at is None or now - row.last_heartbeat_at > timeout:
        return "away"
    return "available"


def _view(row: Presence, now: datetime, timeout: timedelta) -> MemberAvailability:
    return MemberAvailability(
        user_id=row.id,
        name=row.name,
        is_available=row.is_available,
        status=status_of(row, now, timeout),
        last_seen_at=row.last_heartbeat_at,
    )


async def _announce_if_changed(uow: UnitOfWork, row: Presence, status: str) -> None:
    if row.announced_status == status:
        return
    await store.mark_announced(uow, row.tenant_id, row.id, status)
    uow.emit(
        "identity.availability.changed",
        events_pb2.AvailabilityChanged(user_id=row.id, tenant_id=row.tenant_id, status=status),
        tenant_id=row.tenant_id,
    )


async def set_mine(
    uow: UnitOfWork, is_available: bool | None, timeout: timedelta
) -> MemberAvailability:
    if is_available is None:
        raise invalid("is_available", "The is_available field is required.", "required")
    now = uow.clock.now()
    # Switching on is itself a sign of life.
    changes = PresenceChanges(is_available=is_available)
    if is_available:
        changes = PresenceChanges(is_available=True, last_heartbeat_at=now)
    row = await store.update(uow, uow.principal.user_id, changes)
    status = status_of(row, now, timeout)
    await _announce_if_changed(uow, row, status)
    return _view(row, now, timeout)


async def heartbeat(uow: UnitOfWork, timeout: timedelta) -> MemberAvailability:
    now = uow.clock.now()
    row = await store.update(uow, uow.principal.user_id, PresenceChanges(last_heartbeat_at=now))
    status = status_of(row, now, timeout)
    await _announce_if_changed(uow, row, status)
    return _view(row, now, timeout)


async def team(uow: UnitOfWork, timeout: timedelta, page: PageQuery) -> Page[MemberAvailability]:
    now = uow.clock.now()
    return (await store.team(uow, page)).map(lambda row: _view(row, now, timeout))


async def sweep_silent_members(uow: UnitOfWork, timeout: timedelta) -> int:
    """Announces "away" for members whose heartbeats stopped; returns how many."""
    now = uow.clock.now()
    silent = await store.claim_silent(uow, now - timeout)
    for row in silent:
        await _announce_if_changed(uow, row, "away")
    return len(silent)
