"""Periodic jobs: each runs every N seconds (with jitter) beside the gRPC server, survives its own
failures, stops when the service stops, and is safe with several replicas.

A job is declared once, next to the work it does (`services/<svc>/jobs/`), and handed to
`ServiceApp(jobs=lambda ctx: [...])`:

    PeriodicJob("sweep_silent_members", every=15.0, run=sweep)

An exclusive job (the default) runs one tick at a time across all replicas: a tick first takes a
PostgreSQL advisory lock named after the service and the job, and a replica that finds it taken
skips that tick. The lock is transaction-scoped, so a crashed or cancelled tick can never leave it
held. Jobs should still be idempotent (claim rows with FOR UPDATE SKIP LOCKED where they can):
the lock keeps ticks apart, not a tick's work from being retried after a crash."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("plixa.jobs")

_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")


@dataclass(frozen=True)
class PeriodicJob:
    """`run` is called every `every` seconds, ± `jitter` (a fraction of `every`), timed from the
    end of the previous tick so slow ticks never pile up. `exclusive` keeps replicas apart."""

    name: str
    every: float
    run: Callable[[], Awaitable[None]]
    exclusive: bool = True
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.every <= 0:
            raise ValueError(f"job {self.name}: every must be positive, not {self.every}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"job {self.name}: jitter is a fraction in [0, 1), not {self.jitter}")

    def next_delay(self) -> float:
        """Seconds until the next tick; the spread keeps replicas from waking together."""
        return self.every * random.uniform(1 - self.jitter, 1 + self.jitter)


def advisory_key(service: str, job: str) -> int:
    """The job's advisory lock key: a signed 64-bit integer that is the same in every process
    (derived with SHA-256; Python's hash() is randomised per process)."""
    digest = hashlib.sha256(f"plixa.job:{service}:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def run_tick(job: PeriodicJob, engine: AsyncEngine, service: str) -> bool:
    """One tick: runs the job unless it is exclusive and another replica holds it right now.
    Returns whether it ran. Errors propagate (the loop in `run_periodically` logs them)."""
    if not job.exclusive:
        await job.run()
        return True
    # The lock lives in a transaction of its own connection and ends with it, whatever happens.
    async with engine.connect() as conn, conn.begin():
        taken = (await conn.execute(_TRY_LOCK, {"key": advisory_key(service, job.name)})).scalar()
        if not taken:
            return False
        await job.run()
        return True


async def run_periodically(job: PeriodicJob, engine: AsyncEngine, service: str) -> None:
    """Runs `job` until cancelled. A failing tick is logged and the next one comes on schedule.
    The first tick comes after a random part of one jitter, so replicas start apart."""
    extra = {"job": job.name}
    await asyncio.sleep(job.every * random.uniform(0, job.jitter))
    while True:
        started = time.monotonic()
        try:
            ran = await run_tick(job, engine, service)
        except Exception:
            log.exception(
                "job %s failed; it runs again in about %ss", job.name, job.every, extra=extra
            )
        else:
            if ran:
                took_ms = round((time.monotonic() - started) * 1000, 1)
                log.debug("job %s ran", job.name, extra={**extra, "took_ms": took_ms})
        await asyncio.sleep(job.next_delay())
