"""Raw SQL on the unit of work's connection (services/kit/fastsql.py) against a real PostgreSQL:
it joins the unit's transaction (commits and rolls back with it, sees its SQLAlchemy writes and
is seen by them), autocommits in a reader, and a lost connection is reported as SQLAlchemy
reports one (so the interceptor answers UNAVAILABLE) and replaced by the pool. The fast reader
(the kit's own asyncpg pool) autocommits, returns clean connections, keeps both pools within the
service's connection budget, and a lost connection answers UNAVAILABLE, then recovers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from plixa.common.v1 import onboarding_pb2, onboarding_pb2_grpc
from plixa.common.v1.principal_pb2 import Principal
from services.kit import fastsql
from services.kit.client import ServiceClient, ServiceUnavailable
from services.kit.clock import SystemClock
from services.kit.db import Database, create_engine
from services.kit.interceptors import ServiceInterceptor
from services.kit.principal import service_principal
from services.kit.server import register_servicer
from tests.databases import scratch_schema

SCHEMA = "fastsqltest"
GRPC_SECRET = b"fastsql-test-secret"
MEMBER = Principal(kind=Principal.KIND_USER, tenant_id=1, user_id=1)
INSERT = "INSERT INTO fastsqltest.notes (body) VALUES ($1)"
COUNT = "SELECT count(*) FROM fastsqltest.notes WHERE body = $1"


class Boom(Exception):
    pass


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    notes = (
        "CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " body text NOT NULL, flag boolean)"
    )
    with scratch_schema(SCHEMA, notes) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(database_url, SCHEMA, pool_size=2), SCHEMA, SystemClock())
    yield database
    await database.dispose()


async def count(db: Database, body: str) -> int:
    async with db.reader(MEMBER) as uow:
        row = await fastsql.fetchrow(uow, COUNT, body)
    assert row is not None
    return int(row[0])


async def test_a_write_commits_with_the_unit_of_work(db: Database) -> None:
    body = uuid.uuid4().hex
    async with db.unit_of_work(MEMBER) as uow:
        assert await fastsql.execute(uow, INSERT, body) == "INSERT 0 1"
    assert await count(db, body) == 1


async def insert_then_fail(db: Database, body: str, *, reader: bool = False) -> None:
    async with (db.reader if reader else db.unit_of_work)(MEMBER) as uow:
        await fastsql.execute(uow, INSERT, body)
        raise Boom


async def test_a_write_rolls_back_with_the_unit_of_work(db: Database) -> None:
    body = uuid.uuid4().hex
    with pytest.raises(Boom):
        await insert_then_fail(db, body)
    assert await count(db, body) == 0


async def mix_then_fail(db: Database, first: str, second: str) -> None:
    async with db.unit_of_work(MEMBER) as uow:
        await fastsql.execute(uow, INSERT, first)  # raw first: it begins the transaction
        seen = await uow.conn.scalar(
            text("SELECT count(*) FROM notes WHERE body = :b"), {"b": first}
        )
        assert seen == 1
        await uow.conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": second})
        row = await fastsql.fetchrow(uow, COUNT, second)
        assert row is not None and row[0] == 1
        raise Boom


async def test_raw_and_sqlalchemy_statements_share_one_transaction(db: Database) -> None:
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    with pytest.raises(Boom):
        await mix_then_fail(db, first, second)
    assert await count(db, first) == 0
    assert await count(db, second) == 0


async def test_a_reader_autocommits_each_statement(db: Database) -> None:
    body = uuid.uuid4().hex
    with pytest.raises(Boom):
        await insert_then_fail(db, body, reader=True)
    assert await count(db, body) == 1


async def backend_of_a_held_connection(db: Database, held: asyncio.Event) -> int:
    async with db.reader(MEMBER) as uow:
        backend = (await fastsql.connection(uow)).get_server_pid()
        await held.wait()  # both connections of the pool are out at once
    return backend


async def test_lost_connections_are_reported_as_invalidated_and_all_replaced(
    db: Database,
) -> None:
    held = asyncio.Event()
    both = asyncio.gather(*(backend_of_a_held_connection(db, held) for _ in range(2)))
    await asyncio.sleep(0.2)
    held.set()
    backends = set(await both)
    assert len(backends) == 2
    # As after a database restart: every connection of the pool is cut.
    killer = await asyncpg.connect(
        db.engine.url.render_as_string(hide_password=False).replace("+asyncpg", "")
    )
    try:
        await killer.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", backends
        )
    finally:
        await killer.close()
    with pytest.raises(DBAPIError) as raised:
        await count(db, "anything")  # a dead connection: the caller is told to retry
    assert raised.value.connection_invalidated
    # The retry works: the pool replaced every connection of the lost generation, not just one.
    for _ in range(3):
        async with db.reader(MEMBER) as uow:
            assert (await fastsql.connection(uow)).get_server_pid() not in backends


@dataclass(frozen=True)
class Note:
    id: int
    body: str
    flag: bool | None


async def test_rows_map_to_dataclasses_by_field_order(db: Database) -> None:
    body = uuid.uuid4().hex
    query = f"SELECT {fastsql.select_list(Note, 'n')}, 42 FROM fastsqltest.notes n WHERE body = $1"
    assert fastsql.select_list(Note, "n") == "n.id, n.body, n.flag"
    async with db.unit_of_work(MEMBER) as uow:
        await fastsql.execute(uow, INSERT, body)
        row = await fastsql.fetchrow(uow, query, body)
    assert row is not None
    note = fastsql.take(Note, row)
    assert (note.body, note.flag) == (body, None)
    assert row[fastsql.width(Note)] == 42


# The fast reader: the kit's own asyncpg pool (Database.fast_reader), no SQLAlchemy.


async def test_the_fast_reader_reads_what_units_of_work_committed(db: Database) -> None:
    body = uuid.uuid4().hex
    async with db.unit_of_work(MEMBER) as uow:
        await fastsql.execute(uow, INSERT, body)
    async with db.fast_reader(MEMBER) as read:
        row = await fastsql.fetchrow(read, COUNT, body)
        assert row is not None and row[0] == 1
        assert read.scope.tenant_id == MEMBER.tenant_id
        # json and jsonb decode as on the engine's connections.
        decoded = await fastsql.fetchrow(read, """SELECT '{"a": [1]}'::jsonb, '[2]'::json""")
        assert decoded is not None and (decoded[0], decoded[1]) == ({"a": [1]}, [2])


async def fast_insert_then_fail(db: Database, body: str) -> None:
    async with db.fast_reader(MEMBER) as read:
        await fastsql.execute(read, INSERT, body)
        raise Boom


async def test_the_fast_reader_autocommits_and_returns_clean_connections(db: Database) -> None:
    body = uuid.uuid4().hex
    with pytest.raises(Boom):
        await fast_insert_then_fail(db, body)
    assert await count(db, body) == 1
    # A transaction left open by mistake is rolled back on return, not handed to the next read.
    async with db.fast_reader(MEMBER) as read:
        await fastsql.execute(read, "BEGIN")
        await fastsql.execute(read, INSERT, "never")
    for _ in range(3):
        async with db.fast_reader(MEMBER) as read:
            assert not read.conn.is_in_transaction()
    assert await count(db, "never") == 0


async def test_the_two_pools_stay_within_the_connection_budget(database_url: str) -> None:
    budget = 20
    engine = create_engine(database_url, SCHEMA, pool_size=budget)
    database = Database(engine, SCHEMA, SystemClock())
    try:
        held = asyncio.Event()

        async def hold_fast() -> None:
            async with database.fast_reader(MEMBER):
                await held.wait()

        async def hold_engine() -> None:
            async with database.reader(MEMBER) as uow:
                await fastsql.connection(uow)
                await held.wait()

        holders = [asyncio.create_task(hold_fast()) for _ in range(budget)]
        holders += [asyncio.create_task(hold_engine()) for _ in range(budget)]
        async with db_admin(database_url) as admin:

            async def opened() -> int:
                return int(
                    await admin.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                        SCHEMA,
                    )
                )

            # Opening 20 connections takes a while on a loaded machine: wait for them, then
            # check that no more come.
            for _ in range(200):  # 20 s at most
                if await opened() >= budget:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            assert await opened() == budget  # 15 for the engine, 5 for the fast reader
        held.set()
        await asyncio.gather(*holders)
    finally:
        await database.dispose()


@asynccontextmanager
async def db_admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


class FastProgress(onboarding_pb2_grpc.OnboardingProgressServicer):
    """An RPC reading through the fast reader; tenant 1 holds its connection until told to go on
    (meanwhile the test cuts the database's connections)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.holding = asyncio.Event()
        self.go_on = asyncio.Event()

    async def GetOnboardingProgress(
        self, request: onboarding_pb2.OnboardingProgressRequest, context: grpc.aio.ServicerContext
    ) -> onboarding_pb2.OnboardingProgressReply:
        async with self.db.fast_reader() as read:
            if request.tenant_id == 1:
                self.holding.set()
                await self.go_on.wait()
            row = await fastsql.fetchrow(read, "SELECT pg_backend_pid()")
        assert row is not None
        return onboarding_pb2.OnboardingProgressReply(steps={f"pid_{row[0]}": True})


async def test_a_lost_fast_connection_answers_unavailable_then_recovers(db: Database) -> None:
    servicer = FastProgress(db)
    server = grpc.aio.server(interceptors=[ServiceInterceptor(GRPC_SECRET)])
    register_servicer(server, servicer)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = ServiceClient(GRPC_SECRET, lambda service: f"127.0.0.1:{port}", timeout=5.0)

    async def ask(tenant_id: int) -> set[str]:
        reply = await client.call(
            "progress",
            "/plixa.common.v1.OnboardingProgress/GetOnboardingProgress",
            onboarding_pb2.OnboardingProgressRequest(tenant_id=tenant_id),
            onboarding_pb2.OnboardingProgressReply,
            principal=service_principal("identity", tenant_id),
        )
        return set(reply.steps)

    try:
        before = await ask(2)
        held = asyncio.create_task(ask(1))
        await servicer.holding.wait()
        # As a database restart does: every backend of this service is terminated.
        async with db_admin(
            db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        ) as admin:
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1",
                SCHEMA,
            )
        assert cut >= 1
        await asyncio.sleep(0.2)
        servicer.go_on.set()
        with pytest.raises(ServiceUnavailable) as lost:
            await held
        assert lost.value.status == grpc.StatusCode.UNAVAILABLE
        # The next calls are served, on new connections.
        for _ in range(3):
            after = await ask(2)
            assert after and after != before
    finally:
        await client.close()
        await server.stop(0)


async def test_a_caller_that_gives_up_waiting_leaves_the_pool_whole(database_url: str) -> None:
    database = Database(create_engine(database_url, SCHEMA, pool_size=2), SCHEMA, SystemClock())
    try:
        async with database.fast_reader(MEMBER) as held:  # the fast pool's only connection
            waiting = asyncio.create_task(fast_pid(database))
            await asyncio.sleep(0.1)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            first = held.conn.get_server_pid()
        # The connection came back and is the one the next read gets; nothing is leaked.
        assert await asyncio.wait_for(fast_pid(database), 2) == first
    finally:
        await database.dispose()


async def fast_pid(database: Database) -> int:
    async with database.fast_reader(MEMBER) as read:
        return int(read.conn.get_server_pid())
