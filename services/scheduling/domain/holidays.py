"""Public holidays as closures. The sync owns the rows with source "holiday" and never touches
manual ones; each date is imported once (unique per tenant, day and source). A failed import
leaves the toggle saved with synced=false; the job retries with a growing delay."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.kit.db import Database, UnitOfWork
from services.kit.errors import invalid
from services.kit.principal import service_principal
from services.kit.validation import Checker
from services.scheduling.clients.holidays import Holidays, HolidaysUnavailable
from services.scheduling.store import catalogue as store

MAX_RETRY = timedelta(hours=6)


async def save_config(uow: UnitOfWork, block: bool, country: str | None) -> store.HolidayConfigRow:
    tenant_id = uow.scope.tenant_id
    check = Checker()
    code = check.country("country_code", country) if country else None
    check.done()
    current = await store.get_holiday_config(uow, tenant_id)
    code = code or (current.country_code.strip() if current else None)
    if code is None:
        if block:
            raise invalid(
                "country_code", "The country_code is required to import holidays.", "required"
            )
        code = "BR"
    if not block:
        await store.drop_holidays_from(uow, tenant_id, uow.clock.now().date())
    return await store.put_holiday_config(
        uow,
        tenant_id,
        block_holidays=block,
        country_code=code,
        synced=False if block else (current.synced if current else False),
        next_attempt_at=uow.clock.now() if block else None,
    )


async def sync(db: Database, holidays: Holidays, tenant_id: int) -> bool:
    """Imports this year's and next year's holidays from today on; True when it worked."""
    principal = service_principal("scheduling", tenant_id)
    async with db.reader(principal) as uow:
        config = await store.get_holiday_config(uow, tenant_id)
        today = uow.clock.now().date()
    if config is None or not config.block_holidays:
        return True
    country = config.country_code.strip()
    try:
        found = []
        for year in (today.year, today.year + 1):
            found += await holidays.public_holidays(year, country)
    except HolidaysUnavailable:
        async with db.unit_of_work(principal) as uow:
            attempts = config.attempts + 1
            delay = min(MAX_RETRY, timedelta(seconds=30 * 2 ** min(attempts, 10)))
            await store.put_holiday_config(
                uow,
                tenant_id,
                block_holidays=True,
                country_code=country,
                synced=False,
                attempts=attempts,
                next_attempt_at=uow.clock.now() + delay,
            )
        return False
    async with db.unit_of_work(principal) as uow:
        current = await store.get_holiday_config(uow, tenant_id)
        if current is None or not current.block_holidays:
            return True  # turned off meanwhile
        for day, name in found:
            if day >= today:
                await store.add_closure(uow, tenant_id, day, name, "holiday")
        await store.put_holiday_config(
            uow,
            tenant_id,
            block_holidays=True,
            country_code=country,
            synced=True,
            synced_at=uow.clock.now(),
            attempts=0,
            next_attempt_at=None,
        )
    return True


async def retry_unsynced(db: Database, holidays: Holidays, now: datetime, limit: int = 20) -> int:
    """The job: tenants whose import is due again."""
    async with db.reader(service_principal("scheduling")) as uow:
        from sqlalchemy import select

        from services.scheduling.store.tables import holiday_configs

        rows = await uow.conn.execute(
            select(holiday_configs.c.tenant_id)
            .where(
                holiday_configs.c.block_holidays,
                ~holiday_configs.c.synced,
                (holiday_configs.c.next_attempt_at.is_(None))
                | (holiday_configs.c.next_attempt_at <= now),
            )
            .limit(limit)
        )
        tenants = list(rows.scalars())
    for tenant_id in tenants:
        await sync(db, holidays, tenant_id)
    return len(tenants)
