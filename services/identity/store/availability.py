"""SQL for members' availability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from services.identity.domain.models import Presence
from services.identity.store.tables import users
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row, from_rows

COLUMNS = (
    users.c.id,
    users.c.tenant_id,
    users.c.name,
    users.c.is_available,
    users.c.last_heartbeat_at,
    users.c.announced_status,
)


@dataclass(frozen=True)
class PresenceChanges:
    is_available: bool | Unset = UNSET
    last_heartbeat_at: datetime | Unset | None = UNSET


async def get(uow: UnitOfWork, user_id: int) -> Presence:
    query = uow.scope.select(users, *COLUMNS).where(users.c.id == user_id)
    return from_row(Presence, (await uow.conn.execute(query)).one())


TEAM_ORDER = Keyset("identity.team_availability", id=users.c.id, sort=users.c.name)


async def team(uow: UnitOfWork, page: PageQuery) -> Page[Presence]:
    """A page of the workspace's members' availability, by name."""
    rows = await paginate(uow.conn, uow.scope.select(users, *COLUMNS), TEAM_ORDER, page)
    return rows.map(lambda row: from_row(Presence, row))


async def update(uow: UnitOfWork, user_id: int, changes: PresenceChanges) -> Presence:
    statement = (
        uow.scope.update(users)
        .where(users.c.id == user_id)
        .values(**changed(changes))
        .returning(*COLUMNS)
    )
    return from_row(Presence, (await uow.conn.execute(statement)).one())


async def claim_silent(uow: UnitOfWork, silent_since: datetime, limit: int = 100) -> list[Presence]:
    """Members announced available whose heartbeats stopped; locked so one replica handles each.
    The sweep runs for every tenant, outside any member's request."""
    query = (
        select(*COLUMNS)
        .where(
            users.c.is_available.is_(True),
            users.c.announced_status == "available",
            users.c.last_heartbeat_at < silent_since,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return from_rows(Presence, await uow.conn.execute(query))


async def mark_announced(uow: UnitOfWork, tenant_id: int, user_id: int, status: str) -> None:
    statement = (
        uow.scope_of(tenant_id)
        .update(users)
        .where(users.c.id == user_id)
        .values(announced_status=status)
    )
    await uow.conn.execute(statement)
