"""The sweep that announces "away" for members whose heartbeats stopped."""

from __future__ import annotations

import logging
from datetime import timedelta

from services.identity.domain import availability
from services.kit.db import Database
from services.kit.jobs import PeriodicJob
from services.kit.principal import ANONYMOUS

log = logging.getLogger("plixa.identity.availability")


def sweep_silent_members(db: Database, timeout: timedelta, every: float) -> PeriodicJob:
    async def sweep() -> None:
        # Rows are claimed with SKIP LOCKED, so the sweep is safe even beside a manual run.
        async with db.unit_of_work(ANONYMOUS) as uow:
            away = await availability.sweep_silent_members(uow, timeout)
        if away:
            log.info("announced %d silent member(s) away", away)

    return PeriodicJob("sweep_silent_members", every, sweep)
