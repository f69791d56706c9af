"""Periodic jobs against a real PostgreSQL: they run on schedule, survive a failing tick, keep two
replicas of an exclusive job from ever running a tick at the same time, and stop promptly.

The kit's clock tells time but does not sleep, so these run in real time with short periods."""

from __future__ import annotations

import asyncio
import itertools
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.db import create_engine
from services.kit.jobs import PeriodicJob, advisory_key, run_periodically
from tests.conftest import ADMIN_URL


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    # Advisory locks need no tables: the administrative database is enough.
    engine = create_engine(ADMIN_URL, "public", pool_size=4)
    yield engine
    await engine.dispose()


def unique(prefix: str) -> str:
    """Job names no other test (or helper sharing this PostgreSQL) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def run_for(
    seconds: float, *runners: asyncio.Task[None], until: Callable[[], bool] | None = None
) -> None:
    """Runs the runners `seconds`, or, with `until`, until it holds (at most 20 s: a loaded
    machine may be slow to tick, and the assertion after tells what did not happen)."""
    if until is None:
        await asyncio.sleep(seconds)
    else:
        for _ in range(int(20 / (seconds / 10))):
            if until():
                break
            await asyncio.sleep(seconds / 10)
    for task in runners:
        task.cancel()
    await asyncio.gather(*runners, return_exceptions=True)


async def test_a_job_runs_on_its_schedule(engine: AsyncEngine) -> None:
    starts: list[float] = []

    async def tick() -> None:
        starts.append(time.monotonic())

    job = PeriodicJob(unique("schedule"), every=0.1, run=tick)
    await run_for(1.0, asyncio.create_task(run_periodically(job, engine, "kit")))

    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert 5 <= len(starts) <= 11, starts  # ~9 ticks of 0.1 s ± 10 % in one second
    assert min(gaps) >= 0.1 * 0.9 - 0.005, gaps  # never faster than the period less its jitter


async def test_a_failing_tick_is_logged_and_the_loop_goes_on(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError(f"tick {calls} broke")

    job = PeriodicJob(unique("flaky"), every=0.05, run=flaky)
    with caplog.at_level(logging.ERROR, logger="plixa.jobs"):
        await run_for(
            0.6,
            asyncio.create_task(run_periodically(job, engine, "kit")),
            until=lambda: calls >= 5,
        )

    assert calls >= 5, "the loop stopped after a failure"
    failures = [r for r in caplog.records if r.name == "plixa.jobs"]
    assert len(failures) == 2
    assert all(getattr(r, "job", None) == job.name and r.exc_info for r in failures)
    assert "tick 1 broke" in str(failures[0].exc_info[1])  # type: ignore[index]


async def overlap_of_two_replicas(exclusive: bool) -> tuple[int, int]:
    """Two replicas (each with its own engine, as two pods would) run the same job, whose tick
    takes longer than its period. Returns (most ticks seen running at once, ticks run)."""
    running = most = done = 0

    async def slow() -> None:
        nonlocal running, most, done
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        done += 1

    name = unique("replicas")
    engines = [create_engine(ADMIN_URL, "public", pool_size=2) for _ in range(2)]
    try:
        replicas = [
            asyncio.create_task(
                run_periodically(PeriodicJob(name, 0.02, slow, exclusive=exclusive), e, "kit")
            )
            for e in engines
        ]
        await run_for(1.0, *replicas)
    finally:
        for e in engines:
            await e.dispose()
    return most, done


async def test_two_replicas_of_an_exclusive_job_never_tick_together() -> None:
    most, done = await overlap_of_two_replicas(exclusive=True)
    assert most == 1
    assert done >= 5, "the replicas locked each other out"


async def test_without_exclusive_the_same_replicas_do_overlap() -> None:
    # The counterpart that shows the test above can fail.
    most, _ = await overlap_of_two_replicas(exclusive=False)
    assert most == 2


async def test_cancelling_stops_a_job_promptly_and_frees_its_lock(engine: AsyncEngine) -> None:
    entered = asyncio.Event()

    async def long_tick() -> None:
        entered.set()
        await asyncio.sleep(60)

    job = PeriodicJob(unique("cancel"), every=0.05, run=long_tick)
    task = asyncio.create_task(run_periodically(job, engine, "kit"))
    await asyncio.wait_for(entered.wait(), timeout=5)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5

    # The lock went with the tick: a session of its own (not one from the job's pool, which
    # would hold the lock already) takes it at once.
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        free = await conn.fetchval("SELECT pg_try_advisory_lock($1)", advisory_key("kit", job.name))
    finally:
        await conn.close()
    assert free is True


def test_the_lock_key_is_the_same_in_every_process() -> None:
    # hash() would differ between processes (PYTHONHASHSEED); the key must not.
    code = "from services.kit.jobs import advisory_key; print(advisory_key('identity', 'x'))"
    keys = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert keys == {str(advisory_key("identity", "x"))}
    assert -(2**63) <= advisory_key("identity", "x") < 2**63
    assert advisory_key("identity", "x") != advisory_key("inbox", "x")


def test_a_job_needs_a_positive_period() -> None:
    async def nothing() -> None: ...

    with pytest.raises(ValueError, match="every must be positive"):
        PeriodicJob("bad", every=0, run=nothing)
