"""Hot-path SQL: plain SQL text on an asyncpg connection, the fast reader's or a unit of work's.

SQLAlchemy Core rebuilds, compiles and caches-by-key a statement on every call, then wraps the
rows in its Result machinery: about 150 µs of CPU per query here, against about 30 µs for the
same query through asyncpg. Most RPCs do not care; the few that run on every request do (token
resolution, GetMe, and their likes in the services to come). Those write their SQL once, as a
module constant, and run it through this module:

    ME = "SELECT ... FROM identity.users u JOIN identity.tenants t ON ... WHERE u.id = $2"
    row = await fastsql.fetchrow(uow, ME, tenant_id, user_id)

- Where it runs: a hot read that needs no transaction (token resolution, GetMe) opens
  `db.fast_reader()`, a connection of the kit's own asyncpg pool (services/kit/fastpool.py)
  with no SQLAlchemy pool checkout: ~50 µs of CPU per read against ~260 µs through
  `db.reader()` (`python -m bench.reads`); statements autocommit. Anything that writes with
  events, or must be atomic with other statements, runs in `db.unit_of_work()` / `db.reader()`
  and passes that unit here. A hot write whose statements are all here (an inbound message) may
  run in `db.fast_unit_of_work()`: the same transaction, outbox and audit on a fast-pool
  connection, without SQLAlchemy's checkout around BEGIN and COMMIT. The two pools share the
  service's connection budget (`create_engine`'s pool_size: the engine three quarters, the fast
  pool the last quarter);
  they cannot share connections, since SQLAlchemy's pool owns the state of each of its
  connections (transaction, invalidation).
- The statement is prepared once per connection: asyncpg keeps an LRU of prepared statements per
  connection keyed by the SQL text, so pass the same constant string, never a formatted one.
- Given a unit of work, it runs on that unit's connection and inside its transaction (started
  exactly as SQLAlchemy starts it on its first statement), so it commits or rolls back with
  everything else the unit of work did, and sees its earlier writes. In a reader, statements
  autocommit.
- Parameters are `$1, $2…`; rows are asyncpg Records (index by position or name). Map them to
  the store's dataclasses in the store; `select_list()` and `take()` keep a SELECT's columns and a
  dataclass's fields in step.
- A lost connection is reported as SQLAlchemy reports it (DBAPIError, connection invalidated),
  or, on the fast reader, as services.kit.db.ConnectionLost; either way the pool drops the
  connection (and expires its older ones), and the kit's interceptor answers UNAVAILABLE
  (retry). Other database errors are asyncpg's own (asyncpg.UniqueViolationError …): catch
  those, not IntegrityError.

Everything else (writes with events, admin screens, dynamic filters) stays on SQLAlchemy Core."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError

from services.kit.db import (
    CONNECTION_LOST,
    ConnectionLost,
    FastRead,
    FastUnitOfWork,
    UnitOfWork,
)

T = TypeVar("T")
# Where a hot statement runs: the fast reader's own connection, a fast unit of work's (both
# asyncpg connections of the fast pool), or a unit of work's on the engine.
Reads = FastRead | FastUnitOfWork | UnitOfWork
# Where a hot write runs: a transaction of either kind.
Writes = FastUnitOfWork | UnitOfWork


async def connection(uow: UnitOfWork) -> asyncpg.Connection:
    """The asyncpg connection under the unit of work, its transaction begun if it has one."""
    sync = uow.conn.sync_connection
    if sync is not None and not sync.invalidated:
        fairy = sync.connection  # already checked out: no I/O, no greenlet hop
    else:
        fairy = await uow.conn.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    # SQLAlchemy's asyncpg adapter begins its transaction lazily, on the first statement; a raw
    # statement must begin it the same way, or it would run outside the unit's transaction (the
    # adapter skips this in autocommit). services/kit/tests/test_fastsql.py holds this to the
    # pinned SQLAlchemy's behaviour.
    if adapted._transaction is None:
        await adapted._start_transaction()
    driver: asyncpg.Connection = fairy.driver_connection
    return driver


async def fetchrow(uow: Reads, sql: str, *args: Any) -> asyncpg.Record | None:
    conn = await connection(uow) if isinstance(uow, UnitOfWork) else uow.conn
    try:
        return await conn.fetchrow(sql, *args)
    except CONNECTION_LOST as error:
        raise await _lost(uow, sql, args, error) from error


async def fetch(uow: Reads, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await connection(uow) if isinstance(uow, UnitOfWork) else uow.conn
    try:
        return await conn.fetch(sql, *args)
    except CONNECTION_LOST as error:
        raise await _lost(uow, sql, args, error) from error


async def execute(uow: Reads, sql: str, *args: Any) -> str:
    """Runs a statement; the status tag (`UPDATE 1`)."""
    conn = await connection(uow) if isinstance(uow, UnitOfWork) else uow.conn
    try:
        return await conn.execute(sql, *args)
    except CONNECTION_LOST as error:
        raise await _lost(uow, sql, args, error) from error


async def _lost(uow: Reads, sql: str, args: tuple[Any, ...], error: Exception) -> Exception:
    """What SQLAlchemy does on a disconnect: a restart cut every connection of the pool, so all
    those opened before now are replaced at their next checkout, and this one at once (held to
    the pinned SQLAlchemy by services/kit/tests/test_fastsql.py). The fast reader's pool does
    the same: its older connections expire, and the lost one is dropped on release."""
    if not isinstance(uow, UnitOfWork):
        uow.pool.expire()
        return ConnectionLost(f"{type(error).__name__}: {error}")
    sync = uow.conn.sync_connection
    if sync is not None and not sync.invalidated:
        uow.conn.sync_engine.pool._invalidate(sync.connection, error, _checkin=False)
    await uow.conn.invalidate(error)
    # Without the values, as the engine reports its own errors (hide_parameters).
    return DBAPIError(sql, args, error, hide_parameters=True, connection_invalidated=True)


def select_list(model: type[Any], alias: str, prefix: str = "") -> str:
    """`alias.field, …` for every field of a dataclass, in field order (columns named alike)."""
    return ", ".join(
        f"{alias}.{field.name}" + (f" AS {prefix}{field.name}" if prefix else "")
        for field in dataclasses.fields(model)
    )


_widths: dict[type[Any], int] = {}


def width(model: type[Any]) -> int:
    """How many columns `select_list(model, …)` selects."""
    known = _widths.get(model)
    if known is None:
        known = _widths[model] = len(dataclasses.fields(model))
    return known


def take(model: type[T], row: asyncpg.Record, start: int = 0) -> T:
    """The dataclass from the columns `select_list(model, …)` put at `start` in the row."""
    return model(*row[start : start + width(model)])
