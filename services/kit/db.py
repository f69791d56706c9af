"""Database access for a service: one engine, one unit of work per RPC, tenant scoping in one place.

The unit of work owns the transaction: stores run SQL on `uow.conn`, domain code emits events with
`uow.emit`, and both land in one commit (the transactional outbox)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import asyncpg
from google.protobuf.message import Message
from sqlalchemy import Delete, Select, Table, Update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from plixa.common.v1.principal_pb2 import Principal
from services.kit.clock import Clock
from services.kit.config import asyncpg_url
from services.kit.errors import unauthenticated
from services.kit.fastpool import FastPool
from services.kit.invalidation import record_committed
from services.kit.principal import current_principal
from services.kit.staff_audit import record as record_impersonated_action

RECYCLE_SECONDS = 1800  # how old a connection of either pool gets


def engine_share(pool_size: int) -> int:
    """A service's connection budget is `pool_size`: the engine keeps three quarters of it and
    the fast reader's asyncpg pool (`Database.fast_reader`) a third of the engine's, i.e. the
    last quarter, so both together stay within the budget (one more for pools under 4)."""
    return max(1, pool_size - pool_size // 4)


def fast_share(engine_pool_size: int) -> int:
    return max(1, engine_pool_size // 3)


def create_engine(url: str, schema: str, pool_size: int = 20) -> AsyncEngine:
    pool_size = engine_share(pool_size)
    return create_async_engine(
        asyncpg_url(url),
        # No overflow: connections beyond the pool's size are opened for a burst and closed
        # after it, a new PostgreSQL backend each time (one request in ten at 32 callers). The
        # pool is the cap (20, as pool + overflow were); a call beyond it waits for a connection.
        pool_size=pool_size,
        max_overflow=0,
        # No pre-ping: it costs a round trip per checkout. A connection broken by a database
        # restart fails one call and is replaced; recycling bounds how old a connection gets.
        pool_recycle=RECYCLE_SECONDS,
        connect_args={"server_settings": {"search_path": schema, "application_name": schema}},
        # Errors and logs name the statement but not its values (emails, hashes, tokens).
        hide_parameters=True,
    )


@dataclass(frozen=True)
class TenantScope:
    """Every tenant-owned query goes through here, so no store filters by tenant ad hoc."""

    tenant_id: int

    def select(self, table: Table, *columns: Any) -> Select[Any]:
        query: Select[Any] = Select(*columns) if columns else Select(table)
        return query.select_from(table).where(table.c.tenant_id == self.tenant_id)

    def update(self, table: Table) -> Update:
        return table.update().where(table.c.tenant_id == self.tenant_id)

    def delete(self, table: Table) -> Delete:
        return table.delete().where(table.c.tenant_id == self.tenant_id)

    def row(self, **values: Any) -> dict[str, Any]:
        return {**values, "tenant_id": self.tenant_id}


class ConnectionLost(Exception):
    """The database connection went away under a fast read (a restart, a failover, a terminated
    backend). The interceptor answers UNAVAILABLE, as for SQLAlchemy's invalidated connections:
    the pool has dropped the connection, so a retry gets a fresh one."""


@dataclass(slots=True)
class FastRead:
    """A read on the fast reader's asyncpg connection (services/kit/fastsql.py): what a reader
    unit of work offers domain code (principal, clock, tenant scope), without SQLAlchemy.
    Statements autocommit; there is no transaction and no events."""

    conn: asyncpg.Connection
    pool: FastPool
    schema: str
    clock: Clock
    principal: Principal

    @property
    def scope(self) -> TenantScope:
        """The calling member's tenant; refuses callers that have none."""
        if not self.principal.tenant_id:
            raise unauthenticated()
        return TenantScope(self.principal.tenant_id)


@dataclass
class PendingEvent:
    subject: str
    message: Message
    tenant_id: int | None


class Work:
    """What domain code uses in either unit of work: the principal, the clock, the tenant scope,
    and events queued for the outbox in the unit's transaction."""

    schema: str
    clock: Clock
    principal: Principal
    events: list[PendingEvent]
    emitted: list[PendingEvent]

    @property
    def scope(self) -> TenantScope:
        """The calling member's tenant; refuses callers that have none."""
        if not self.principal.tenant_id:
            raise unauthenticated()
        return TenantScope(self.principal.tenant_id)

    def scope_of(self, tenant_id: int) -> TenantScope:
        """An explicit tenant, for flows with no signed-in member yet (registration, login)."""
        return TenantScope(tenant_id)

    def emit(self, subject: str, message: Message, tenant_id: int | None = None) -> None:
        """Queue an event; it is written to the outbox in this unit's transaction."""
        if tenant_id is None and self.principal.tenant_id:
            tenant_id = self.principal.tenant_id
        self.events.append(PendingEvent(subject, message, tenant_id))

    async def flush_events(self) -> None:
        """Writes the queued events in one prepared statement (every write of every service
        passes here, so not through SQLAlchemy Core's per-call compile: services/kit/fastsql.py)."""
        if not self.events:
            return
        from services.kit import fastsql  # it builds on this module

        events = self.events
        await fastsql.execute(
            self,  # type: ignore[arg-type]  # always a UnitOfWork or a FastUnitOfWork
            _outbox_insert(self.schema),
            [uuid.uuid4() for _ in events],
            [e.subject for e in events],
            [e.message.SerializeToString() for e in events],
            [e.tenant_id for e in events],
            self.clock.now(),
        )
        self.emitted.extend(events)
        self.events = []


@dataclass
class UnitOfWork(Work):
    """A transaction on one of the engine's connections: SQLAlchemy Core on `conn`, and the hot
    statements through services/kit/fastsql.py inside the same transaction."""

    conn: AsyncConnection
    schema: str
    clock: Clock
    principal: Principal
    events: list[PendingEvent] = field(default_factory=list)
    # Everything this unit emitted, kept after the commit (servicers derive response metadata).
    emitted: list[PendingEvent] = field(default_factory=list)


@dataclass
class FastUnitOfWork(Work):
    """A transaction on a connection of the fast pool, for the few hot writes whose statements
    are all fastsql (an inbound message): none of SQLAlchemy's checkout, reset and greenlet hops
    around BEGIN and COMMIT. Same events, audit and commit rules as UnitOfWork."""

    conn: asyncpg.Connection
    pool: FastPool
    schema: str
    clock: Clock
    principal: Principal
    events: list[PendingEvent] = field(default_factory=list)
    emitted: list[PendingEvent] = field(default_factory=list)


@cache
def _outbox_insert(schema: str) -> str:
    """One constant string per schema, so asyncpg prepares it once per connection."""
    return (
        f"INSERT INTO {schema}.outbox (id, subject, payload, tenant_id, created_at)"
        " SELECT id, subject, payload, tenant_id, $5"
        " FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bigint[]) WITH ORDINALITY"
        " AS e(id, subject, payload, tenant_id, n) ORDER BY n"  # seq keeps the emit order
    )


class Database:
    """A service's engine plus the unit-of-work factory its servicers use."""

    def __init__(
        self, engine: AsyncEngine, schema: str, clock: Clock, audits_impersonation: bool = True
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.clock = clock
        # Each commit of an impersonation token's mutating call carries its audit event
        # (services/kit/staff_audit.py); the backoffice, which keeps the log, records its own.
        self.audits_impersonation = audits_impersonation
        self._fast_pool: FastPool | None = None
        self._on_events_committed: list[Callable[[], None]] = []

    def on_events_committed(self, callback: Callable[[], None]) -> None:
        """Calls `callback` after each commit that wrote outbox rows: the process's own relay
        wakes at once. (Not NOTIFY: its commit-time lock would serialize every commit that
        emits, and a relay only needs waking in the process that wrote.)"""
        self._on_events_committed.append(callback)

    @asynccontextmanager
    async def unit_of_work(self, principal: Principal | None = None) -> AsyncIterator[UnitOfWork]:
        """One transaction: commits with its events on success, rolls everything back on error."""
        async with self.engine.connect() as conn, conn.begin():
            uow = UnitOfWork(conn, self.schema, self.clock, principal or current_principal())
            yield uow
            await self._before_commit(uow)
        self._after_commit(uow)

    @asynccontextmanager
    async def fast_unit_of_work(
        self, principal: Principal | None = None
    ) -> AsyncIterator[FastUnitOfWork]:
        """One transaction on the fast pool (see FastUnitOfWork): only services/kit/fastsql.py
        runs SQL on it. Commits with its events on success, rolls back on error."""
        pool, conn, opened_at = await self._fast_connection()
        try:
            uow = FastUnitOfWork(
                conn, pool, self.schema, self.clock, principal or current_principal()
            )
            try:
                async with conn.transaction():
                    yield uow
                    await self._before_commit(uow)
            except CONNECTION_LOST as error:
                if not conn.is_closed():
                    raise  # not the connection's failure (fastsql reports its own as lost)
                pool.expire()
                raise ConnectionLost(f"{type(error).__name__}: {error}") from error
        finally:
            pool.release(conn, opened_at)  # a connection left in a transaction is dropped
        self._after_commit(uow)

    async def _before_commit(self, uow: Work) -> None:
        if self.audits_impersonation:
            record_impersonated_action(uow, self.schema)
        await uow.flush_events()

    def _after_commit(self, uow: Work) -> None:
        record_committed(uow.emitted)  # the call's invalidation trailers follow from these
        if uow.emitted:
            for callback in self._on_events_committed:
                callback()

    @asynccontextmanager
    async def reader(self, principal: Principal | None = None) -> AsyncIterator[UnitOfWork]:
        """For RPCs that only read: no BEGIN/COMMIT round trips (each statement autocommits).
        Emitting an event here is a bug, and refused."""
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            uow = UnitOfWork(conn, self.schema, self.clock, principal or current_principal())
            yield uow
            if uow.events:
                raise RuntimeError("a read-only unit of work emitted events")

    @asynccontextmanager
    async def fast_reader(self, principal: Principal | None = None) -> AsyncIterator[FastRead]:
        """For the hot reads (token resolution, GetMe): a connection of the kit's own asyncpg
        pool (services/kit/fastpool.py), its statements prepared once per connection, with none
        of SQLAlchemy's pool checkout (greenlet hops, autocommit switch, reset on return).
        Statements autocommit. Only services/kit/fastsql.py runs SQL on it."""
        pool, conn, opened_at = await self._fast_connection()
        try:
            yield FastRead(conn, pool, self.schema, self.clock, principal or current_principal())
        finally:
            pool.release(conn, opened_at)

    async def _fast_connection(self) -> tuple[FastPool, asyncpg.Connection, float]:
        pool = self._fast_pool or self._open_fast_pool()
        try:
            conn, opened_at = await pool.acquire()
        except CONNECTION_LOST as error:
            pool.expire()
            raise ConnectionLost(f"{type(error).__name__}: {error}") from error
        return pool, conn, opened_at

    def _open_fast_pool(self) -> FastPool:
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        settings = {"search_path": self.schema, "application_name": self.schema}

        async def connect() -> asyncpg.Connection:
            conn = await asyncpg.connect(url, server_settings=settings)
            try:
                await _json_codecs(conn)
            except BaseException:
                conn.terminate()
                raise
            return conn

        size = fast_share(self.engine.pool.size())  # type: ignore[attr-defined]
        self._fast_pool = FastPool(connect, size, recycle_seconds=RECYCLE_SECONDS)
        return self._fast_pool

    async def dispose(self) -> None:
        if self._fast_pool is not None:
            await self._fast_pool.close()
            self._fast_pool = None
        await self.engine.dispose()


# Errors that mean the connection is gone (the server restarted, the socket broke), not the query.
CONNECTION_LOST: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    # The server's goodbye arrived before the socket closed: the protocol is in a state no query
    # can use, so the connection is as good as lost.
    asyncpg.exceptions.InternalClientError,
)


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """As on the engine's connections (SQLAlchemy's asyncpg dialect), so a fastsql statement
    means the same on either pool: json and jsonb parameters are JSON text, results decode to
    Python values."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads, schema="pg_catalog")
