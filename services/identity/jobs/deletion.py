"""The job that carries out account deletions whose grace period has ended."""

from __future__ import annotations

import logging

from services.identity.domain import deletion
from services.kit.db import Database
from services.kit.jobs import PeriodicJob
from services.kit.principal import ANONYMOUS

log = logging.getLogger("plixa.identity.deletion")


def carry_out_deletions(db: Database, every: float) -> PeriodicJob:
    async def carry_out() -> None:
        async with db.unit_of_work(ANONYMOUS) as uow:
            done = await deletion.carry_out_due(uow)
        if done:
            log.info("carried out %d account deletion(s)", done)

    return PeriodicJob("carry_out_deletions", every, carry_out)
