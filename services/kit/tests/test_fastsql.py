"""Raw SQL on the unit of work's connection (services/kit/fastsql.py) against a real PostgreSQL:
it joins the unit's transaction (commits and rolls back with it, sees its SQLAlchemy writes and
is seen by them), autocommits in a reader, and a lost connection is reported as SQLAlchemy
reports one (so the interceptor answers UNAVAILABLE) and replaced by the pool."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from plixa.common.v1.principal_pb2 import Principal
from services.kit import fastsql
from services.kit.clock import SystemClock
from services.kit.db import Database, create_engine
from tests.conftest import ADMIN_URL

SCHEMA = "fastsqltest"
MEMBER = Principal(kind=Principal.KIND_USER, tenant_id=1, user_id=1)
INSERT = "INSERT INTO fastsqltest.notes (body) VALUES ($1)"
COUNT = "SELECT count(*) FROM fastsqltest.notes WHERE body = $1"


class Boom(Exception):
    pass


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    base, _, _ = ADMIN_URL.rpartition("/")
    name = f"plixa_test_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(f"{base}/postgres")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def prepare() -> None:
        conn = await asyncpg.connect(f"{base}/{name}")
        try:
            await conn.execute(
                f"CREATE SCHEMA {SCHEMA};"
                f" CREATE TABLE {SCHEMA}.notes (id bigint GENERATED ALWAYS AS IDENTITY"
                " PRIMARY KEY, body text NOT NULL, flag boolean)"
            )
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    asyncio.run(prepare())
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(database_url, SCHEMA, pool_size=1), SCHEMA, SystemClock())
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


async def test_a_write_rolls_back_with_the_unit_of_work(db: Database) -> None:
    body = uuid.uuid4().hex
    with pytest.raises(Boom):
        async with db.unit_of_work(MEMBER) as uow:
            await fastsql.execute(uow, INSERT, body)
            raise Boom
    assert await count(db, body) == 0


async def test_raw_and_sqlalchemy_statements_share_one_transaction(db: Database) -> None:
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    with pytest.raises(Boom):
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
    assert await count(db, first) == 0
    assert await count(db, second) == 0


async def test_a_reader_autocommits_each_statement(db: Database) -> None:
    body = uuid.uuid4().hex
    with pytest.raises(Boom):
        async with db.reader(MEMBER) as uow:
            await fastsql.execute(uow, INSERT, body)
            raise Boom
    assert await count(db, body) == 1


async def test_a_lost_connection_is_reported_as_invalidated_and_replaced(db: Database) -> None:
    async with db.reader(MEMBER) as uow:
        conn = await fastsql.connection(uow)
        backend = conn.get_server_pid()
    killer = await asyncpg.connect(
        db.engine.url.render_as_string(hide_password=False).replace(
            "postgresql+asyncpg", "postgresql"
        )
    )
    try:
        await killer.execute("SELECT pg_terminate_backend($1)", backend)
    finally:
        await killer.close()
    with pytest.raises(DBAPIError) as raised:
        async with db.reader(MEMBER) as uow:  # the pool's only connection: the dead one
            await fastsql.fetchrow(uow, "SELECT 1")
    assert raised.value.connection_invalidated
    async with db.reader(MEMBER) as uow:
        row = await fastsql.fetchrow(uow, "SELECT 1")
        assert row is not None and row[0] == 1
        assert (await fastsql.connection(uow)).get_server_pid() != backend


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
