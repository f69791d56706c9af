"""Identity's periodic work. Each job is a thin wrapper: the rules live in domain/."""

from __future__ import annotations

from services.identity.jobs.availability import sweep_silent_members
from services.identity.jobs.deletion import carry_out_deletions
from services.identity.jobs.throttle import prune_sign_in_counters
from services.identity.settings import IdentitySettings
from services.kit.jobs import PeriodicJob
from services.kit.server import ServiceContext


def identity_jobs(ctx: ServiceContext[IdentitySettings]) -> list[PeriodicJob]:
    every = ctx.settings.sweep_seconds
    return [
        sweep_silent_members(ctx.db, ctx.settings.heartbeat_timeout, every),
        carry_out_deletions(ctx.db, every),
        prune_sign_in_counters(ctx.db, every),
    ]
