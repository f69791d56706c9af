"""SQL for the activity digest: settings, workspace profiles, daily counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.rows import from_row, from_rows
from services.notifications.store.tables import metadata

digest_configs = Table(
    "digest_configs",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("frequency", Text, nullable=False),
    Column("enabled_at", DateTime(timezone=True)),
    Column("last_period", Text),
    Column("last_sent_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
tenant_profiles = Table(
    "tenant_profiles",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("timezone", Text, nullable=False),
)
daily_stats = Table(
    "daily_stats",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("inbound", Integer, nullable=False),
    Column("outbound", Integer, nullable=False),
    Column("conversations", Integer, nullable=False),
)


@dataclass(frozen=True)
class ConfigRow:
    tenant_id: int
    enabled: bool
    frequency: str
    enabled_at: datetime | None
    last_period: str | None
    last_sent_at: datetime | None


@dataclass(frozen=True)
class Profile:
    name: str
    timezone: str


@dataclass(frozen=True)
class Figures:
    inbound: int
    outbound: int
    conversations: int


async def get_config(conn: AsyncConnection, tenant_id: int) -> ConfigRow | None:
    row = (
        await conn.execute(select(digest_configs).where(digest_configs.c.tenant_id == tenant_id))
    ).one_or_none()
    return from_row(ConfigRow, row) if row else None


async def save_config(
    conn: AsyncConnection,
    tenant_id: int,
    *,
    enabled: bool,
    frequency: str,
    enabled_at: datetime | None,
    now: datetime,
) -> ConfigRow:
    values = {
        "enabled": enabled,
        "frequency": frequency,
        "enabled_at": enabled_at,
        "updated_at": now,
    }
    statement = pg_insert(digest_configs).values(tenant_id=tenant_id, **values)
    statement = statement.on_conflict_do_update(index_elements=["tenant_id"], set_=values)
    await conn.execute(statement)
    found = await get_config(conn, tenant_id)
    assert found is not None
    return found


async def enabled_configs(conn: AsyncConnection) -> list[ConfigRow]:
    query = (
        select(digest_configs).where(digest_configs.c.enabled).order_by(digest_configs.c.tenant_id)
    )
    return from_rows(ConfigRow, (await conn.execute(query)).all())


async def claim_period(conn: AsyncConnection, tenant_id: int, period: str, now: datetime) -> bool:
    """Marks a period sent for a tenant; False when it already was (once per period)."""
    statement = (
        digest_configs.update()
        .where(
            digest_configs.c.tenant_id == tenant_id,
            func.coalesce(digest_configs.c.last_period, "") != period,
        )
        .values(last_period=period, last_sent_at=now)
        .returning(digest_configs.c.tenant_id)
    )
    return (await conn.execute(statement)).first() is not None


async def profile(conn: AsyncConnection, tenant_id: int) -> Profile:
    row = (
        await conn.execute(select(tenant_profiles).where(tenant_profiles.c.tenant_id == tenant_id))
    ).one_or_none()
    return from_row(Profile, row) if row else Profile("", "UTC")


async def set_profile(
    conn: AsyncConnection, tenant_id: int, *, name: str | None = None, timezone: str | None = None
) -> None:
    values = {k: v for k, v in (("name", name), ("timezone", timezone)) if v}
    if not values:
        return
    statement = pg_insert(tenant_profiles).values(tenant_id=tenant_id, **values)
    await conn.execute(statement.on_conflict_do_update(index_elements=["tenant_id"], set_=values))


async def timezones(conn: AsyncConnection, tenant_ids: list[int]) -> dict[int, str]:
    """Each known tenant's time zone (`profile` for a batch; an unknown tenant's is UTC)."""
    query = select(tenant_profiles.c.tenant_id, tenant_profiles.c.timezone).where(
        tenant_profiles.c.tenant_id.in_(tenant_ids)
    )
    return {tenant_id: timezone for tenant_id, timezone in await conn.execute(query)}


_COUNT_MANY = pg_insert(daily_stats)
_COUNT_MANY = _COUNT_MANY.on_conflict_do_update(
    index_elements=["tenant_id", "day"],
    set_={
        name: daily_stats.c[name] + _COUNT_MANY.excluded[name]
        for name in ("inbound", "outbound", "conversations")
    },
)


async def count_many(conn: AsyncConnection, counts: dict[tuple[int, date], dict[str, int]]) -> None:
    """Adds a batch's counts to the daily figures, one row per (tenant, day)."""
    if not counts:
        return
    rows = [
        {
            "tenant_id": tenant_id,
            "day": day,
            **{name: added.get(name, 0) for name in ("inbound", "outbound", "conversations")},
        }
        for (tenant_id, day), added in counts.items()
    ]
    await conn.execute(_COUNT_MANY, rows)


async def figures(conn: AsyncConnection, tenant_id: int, first: date, last: date) -> Figures:
    query = select(
        func.coalesce(func.sum(daily_stats.c.inbound), 0),
        func.coalesce(func.sum(daily_stats.c.outbound), 0),
        func.coalesce(func.sum(daily_stats.c.conversations), 0),
    ).where(daily_stats.c.tenant_id == tenant_id, daily_stats.c.day.between(first, last))
    inbound, outbound, conversations = (await conn.execute(query)).one()
    return Figures(int(inbound), int(outbound), int(conversations))
