"""The job that keeps the sign-in throttle's counters from growing without bound."""

from __future__ import annotations

import logging

from services.identity.domain import throttle
from services.kit.db import Database
from services.kit.jobs import PeriodicJob
from services.kit.principal import ANONYMOUS

log = logging.getLogger("plixa.identity.throttle")


def prune_sign_in_counters(db: Database, every: float) -> PeriodicJob:
    async def prune() -> None:
        async with db.unit_of_work(ANONYMOUS) as uow:
            removed = await throttle.prune_expired(uow)
        if removed:
            log.info("pruned %d expired sign-in counter(s)", removed)

    return PeriodicJob("prune_sign_in_counters", every, prune)
