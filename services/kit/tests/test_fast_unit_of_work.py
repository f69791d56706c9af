"""The fast unit of work (services/kit/db.py `Database.fast_unit_of_work`) against a real
PostgreSQL: its writes and its events reach the outbox in one commit, and the process's relay is
woken; an error rolls both back and the connection goes back clean; a connection lost under it
answers as the fast reader's does (ConnectionLost, the pool's older connections expire) and the
next unit gets a fresh one; an error that is not the connection's passes through as it is."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from plixa.common.v1.principal_pb2 import Principal
from services.kit import fastsql
from services.kit.clock import SystemClock
from services.kit.db import ConnectionLost, Database, create_engine
from services.kit.migrations import KIT_TABLES
from tests.databases import scratch_schema

SCHEMA = "fastuowtest"
MEMBER = Principal(kind=Principal.KIND_USER, tenant_id=7, user_id=1)
INSERT = "INSERT INTO fastuowtest.notes (body) VALUES ($1)"
COUNT = "SELECT count(*) FROM fastuowtest.notes WHERE body = $1"
EVENTS = "SELECT subject, payload, tenant_id FROM fastuowtest.outbox WHERE subject = $1"


class Boom(Exception):
    pass


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    notes = (
        "CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " body text NOT NULL)"
    )
    with scratch_schema(SCHEMA, KIT_TABLES + notes) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    # A budget of 4: the engine 3, the fast pool 1 (every fast unit here gets the same connection).
    database = Database(create_engine(database_url, SCHEMA, pool_size=4), SCHEMA, SystemClock())
    yield database
    await database.dispose()


def event(body: str) -> Principal:
    """Any message serves as an event's payload; a principal is at hand."""
    return Principal(email=f"{body}@example.com")


async def stored(db: Database, body: str) -> tuple[int, list[asyncpg.Record]]:
    async with db.fast_reader(MEMBER) as read:
        notes = await fastsql.fetchrow(read, COUNT, body)
        events = await fastsql.fetch(read, EVENTS, f"notes.{body}")
    assert notes is not None
    return int(notes[0]), events


async def test_writes_and_events_commit_together_and_wake_the_relay(db: Database) -> None:
    woken: list[int] = []
    db.on_events_committed(lambda: woken.append(1))
    body = uuid.uuid4().hex
    async with db.fast_unit_of_work(MEMBER) as uow:
        await fastsql.execute(uow, INSERT, body)
        uow.emit(f"notes.{body}", event(body))
        assert woken == []  # not before the commit
    notes, events = await stored(db, body)
    assert notes == 1
    assert [(e["tenant_id"], Principal.FromString(e["payload"]).email) for e in events] == [
        (MEMBER.tenant_id, f"{body}@example.com")
    ]
    assert [e.subject for e in uow.emitted] == [f"notes.{body}"]
    assert woken == [1]


async def test_json_parameters_mean_the_same_on_both_pools(db: Database) -> None:
    """A hot statement runs on a fast unit or on the engine's unit of work alike: JSON is
    passed as text and read back as values on both."""
    query = "SELECT $1::jsonb, $2::json"
    async with db.fast_unit_of_work(MEMBER) as fast:
        on_fast = await fastsql.fetchrow(fast, query, '{"kind": "image"}', "[1]")
    async with db.unit_of_work(MEMBER) as uow:
        on_engine = await fastsql.fetchrow(uow, query, '{"kind": "image"}', "[1]")
    assert on_fast is not None and on_engine is not None
    assert tuple(on_fast) == tuple(on_engine) == ({"kind": "image"}, [1])


async def write_then_fail(db: Database, body: str, error: Exception) -> None:
    async with db.fast_unit_of_work(MEMBER) as uow:
        await fastsql.execute(uow, INSERT, body)
        uow.emit(f"notes.{body}", event(body))
        raise error


async def test_an_error_rolls_back_writes_and_events_and_returns_a_clean_connection(
    db: Database,
) -> None:
    woken: list[int] = []
    db.on_events_committed(lambda: woken.append(1))
    body = uuid.uuid4().hex
    with pytest.raises(Boom):
        await write_then_fail(db, body, Boom())
    assert await stored(db, body) == (0, [])
    assert woken == []
    # An OSError of the work itself is not taken for a lost connection.
    with pytest.raises(OSError, match="a provider's socket"):
        await write_then_fail(db, body, OSError("a provider's socket"))
    async with db.fast_reader(MEMBER) as read:  # the pool's one connection came back idle
        assert not read.conn.is_in_transaction()
    async with db.fast_unit_of_work(MEMBER) as uow:
        await fastsql.execute(uow, INSERT, body)
    assert (await stored(db, body))[0] == 1


async def write_after_losing(
    db: Database, body: str, killer: asyncpg.Connection, backend: int
) -> None:
    async with db.fast_unit_of_work(MEMBER) as uow:
        assert uow.conn.get_server_pid() == backend  # the pool's one idle connection
        await killer.execute("SELECT pg_terminate_backend($1)", backend)
        await fastsql.execute(uow, INSERT, body)


async def test_a_lost_connection_is_reported_and_the_next_unit_gets_a_fresh_one(
    db: Database,
) -> None:
    body = uuid.uuid4().hex
    async with db.fast_reader(MEMBER) as read:
        lost_backend = read.conn.get_server_pid()
    killer = await asyncpg.connect(
        db.engine.url.render_as_string(hide_password=False).replace("+asyncpg", "")
    )
    try:
        with pytest.raises(ConnectionLost):
            await write_after_losing(db, body, killer, lost_backend)
    finally:
        await killer.close()
    async with db.fast_unit_of_work(MEMBER) as uow:
        assert uow.conn.get_server_pid() != lost_backend
        await fastsql.execute(uow, INSERT, body)
    assert (await stored(db, body))[0] == 1
