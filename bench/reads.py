"""`python -m bench.reads`: the CPU one hot read costs this process, by the way it gets its
connection: SQLAlchemy's reader (`db.reader()`), the kit's fast reader (`db.fast_reader()`), and
asyncpg's own Pool for reference. The same prepared statement runs through services/kit/fastsql.py
(asyncpg's Pool: `fetchrow` on the connection), by several concurrent callers.

CPU is this process's own (time.process_time), so the figures are less sensitive to other load on
the machine than throughput; PostgreSQL's side is the same for all three and is not counted."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from plixa.common.v1.principal_pb2 import Principal
from services.kit import fastsql
from services.kit.clock import SystemClock
from services.kit.db import Database, create_engine
from tests.conftest import ADMIN_URL

SCHEMA = "readbench"
MEMBER = Principal(kind=Principal.KIND_USER, tenant_id=1, user_id=1)
QUERY = "SELECT n.id, n.body, n.flag FROM readbench.notes n WHERE n.id = $1"


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    base, _, _ = ADMIN_URL.rpartition("/")
    name = f"plixa_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(f"{base}/{name}")
        await conn.execute(
            f"CREATE SCHEMA {SCHEMA}; CREATE TABLE {SCHEMA}.notes (id bigint PRIMARY KEY,"
            " body text NOT NULL, flag boolean);"
            f" INSERT INTO {SCHEMA}.notes SELECT i, md5(i::text), i % 2 = 0"
            " FROM generate_series(1, 1000) i"
        )
        await conn.close()
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def measure(read: Callable[[int], Awaitable[None]], calls: int, callers: int) -> float:
    """CPU µs per read, `callers` at a time."""
    for i in range(200):  # warm: connections opened, statements prepared
        await read(i % 1000 + 1)
    per_caller = calls // callers

    async def caller(offset: int) -> None:
        for i in range(per_caller):
            await read((offset + i) % 1000 + 1)

    started = time.process_time()
    await asyncio.gather(*(caller(c * 97) for c in range(callers)))
    return (time.process_time() - started) / (per_caller * callers) * 1e6


async def main(calls: int, callers: int, rounds: int) -> None:
    async with scratch_database() as url:
        db = Database(create_engine(url, SCHEMA, pool_size=20), SCHEMA, SystemClock())
        pool = await asyncpg.create_pool(url, min_size=1, max_size=5)

        async def sqlalchemy_reader(key: int) -> None:
            async with db.reader(MEMBER) as uow:
                await fastsql.fetchrow(uow, QUERY, key)

        async def fast_reader(key: int) -> None:
            async with db.fast_reader(MEMBER) as read:
                await fastsql.fetchrow(read, QUERY, key)

        async def asyncpg_pool(key: int) -> None:
            async with pool.acquire() as conn:
                await conn.fetchrow(QUERY, key)

        ways = {
            "db.reader() (SQLAlchemy pool)": sqlalchemy_reader,
            "db.fast_reader() (kit pool)": fast_reader,
            "asyncpg Pool (reference)": asyncpg_pool,
        }
        figures: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(rounds):  # the ways take turns, so a drifting host affects them alike
            for name, read in ways.items():
                figures[name].append(await measure(read, calls, callers))
        await pool.close()
        await db.dispose()
    print(f"one hot read, {callers} concurrent callers, {calls} reads × {rounds} rounds")
    print("CPU µs per read in this process (each round; best):")
    for name, values in figures.items():
        rounds_text = " ".join(f"{v:6.1f}" for v in values)
        print(f"  {name:32s} {rounds_text}   best {min(values):6.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    try:
        import uvloop  # as the services run

        uvloop.run(main(arguments.calls, arguments.callers, arguments.rounds))
    except ImportError:
        asyncio.run(main(arguments.calls, arguments.callers, arguments.rounds))
