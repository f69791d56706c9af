"""Keyset paging against a real PostgreSQL: walking every page yields every row once in order
(ties in the sort key included, both directions), the last page says so, limits and cursors are
validated by field, and a cursor never widens the tenant scope of the query it is used with."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Numeric, Row, Table, Text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kit.db import TenantScope, create_engine
from services.kit.errors import DomainError
from services.kit.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Keyset,
    Page,
    PageQuery,
    encode_cursor,
    paginate,
)
from tests.databases import scratch_database

metadata = MetaData(schema="paging")
things = Table(
    "things",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=True),
)
BY_NAME = Keyset("test.things.by_name", id=things.c.id, sort=things.c.name)
NEWEST_FIRST = Keyset(
    "test.things.newest", id=things.c.id, sort=things.c.created_at, descending=True
)
BY_ID = Keyset("test.things.by_id", id=things.c.id)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with scratch_database() as url:
        yield url


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database, "paging", pool_size=2)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS paging")
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def insert(conn: AsyncConnection, rows: list[tuple[int, int, str, datetime]]) -> None:
    if rows:
        await conn.execute(
            things.insert(),
            [{"id": i, "tenant_id": t, "name": n, "created_at": c} for i, t, n, c in rows],
        )


async def walk(
    conn: AsyncConnection, keyset: Keyset, tenant_id: int, limit: int
) -> list[Page[Row[Any]]]:
    pages: list[Page[Row[Any]]] = []
    cursor: str | None = None
    while True:
        page = await paginate(
            conn, TenantScope(tenant_id).select(things), keyset, PageQuery(cursor, limit)
        )
        pages.append(page)
        if not page.has_more:
            return pages
        assert page.next_cursor is not None
        cursor = page.next_cursor
        assert len(pages) < 100, "paging does not end"


def ids(pages: list[Page[Row[Any]]]) -> list[int]:
    return [row.id for page in pages for row in page.items]


def field_of(error: pytest.ExceptionInfo[DomainError]) -> list[str]:
    assert error.value.code == "VALIDATION_FAILED" and error.value.http_status == 422
    return [f.field for f in error.value.fields]


async def test_ascending_walk_with_ties_yields_every_row_once_in_order(
    engine: AsyncEngine,
) -> None:
    # Names repeat, and ids are not in name order, so only (name, id) orders them.
    names = ["b", "a", "b", "a", "c", "b", "a", "b", "b"]
    rows = [(100 - i, 1, n, T0) for i, n in enumerate(names)]
    async with engine.begin() as conn:
        await insert(conn, rows)
        pages = await walk(conn, BY_NAME, 1, limit=2)
    expected = [r[0] for r in sorted(rows, key=lambda r: (r[2], r[0]))]
    assert ids(pages) == expected
    assert [len(p.items) for p in pages] == [2, 2, 2, 2, 1]
    assert all(p.has_more and p.next_cursor for p in pages[:-1])
    assert pages[-1].has_more is False and pages[-1].next_cursor is None
    assert all(p.limit == 2 for p in pages)


async def test_descending_walk_with_equal_timestamps(engine: AsyncEngine) -> None:
    stamps = [T0, T0 + timedelta(hours=1), T0, T0 + timedelta(hours=1), T0, T0 - timedelta(days=1)]
    rows = [(i + 1, 1, f"n{i}", s) for i, s in enumerate(stamps)]
    async with engine.begin() as conn:
        await insert(conn, rows)
        pages = await walk(conn, NEWEST_FIRST, 1, limit=4)
    expected = [r[0] for r in sorted(rows, key=lambda r: (r[3], r[0]), reverse=True)]
    assert ids(pages) == expected == [4, 2, 5, 3, 1, 6]
    assert [p.has_more for p in pages] == [True, False]


async def test_a_full_last_page_says_there_is_no_more(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await insert(conn, [(i, 1, "x", T0) for i in range(1, 7)])
        pages = await walk(conn, BY_ID, 1, limit=3)
    assert [[r.id for r in p.items] for p in pages] == [[1, 2, 3], [4, 5, 6]]
    assert pages[-1].has_more is False and pages[-1].next_cursor is None


async def test_an_empty_list_is_one_empty_last_page(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await insert(conn, [(1, 2, "other tenant", T0)])
        page = await paginate(conn, TenantScope(1).select(things), BY_NAME, PageQuery())
    assert page.items == [] and page.has_more is False and page.next_cursor is None
    assert page.limit == DEFAULT_LIMIT
    meta = page.meta()
    assert not meta.HasField("next_cursor") and meta.has_more is False
    assert meta.limit == DEFAULT_LIMIT


async def test_limit_defaults_to_25_and_stops_at_100(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await insert(conn, [(i, 1, "x", T0) for i in range(1, 131)])
        scoped = TenantScope(1).select(things)
        first = await paginate(conn, scoped, BY_ID, PageQuery())
        widest = await paginate(conn, scoped, BY_ID, PageQuery(limit=MAX_LIMIT))
        for bad in (0, -1, MAX_LIMIT + 1):
            with pytest.raises(DomainError) as error:
                await paginate(conn, scoped, BY_ID, PageQuery(limit=bad))
            assert field_of(error) == ["limit"]
    assert len(first.items) == 25 and first.has_more
    assert len(widest.items) == 100 and widest.has_more
    meta = widest.meta()
    assert meta.next_cursor == widest.next_cursor and meta.limit == 100 and meta.has_more


async def test_rows_added_behind_the_cursor_are_not_repeated(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await insert(conn, [(i, 1, "m", T0) for i in (10, 20, 30, 40)])
        scoped = TenantScope(1).select(things)
        first = await paginate(conn, scoped, BY_NAME, PageQuery(limit=2))
        await insert(conn, [(5, 1, "a", T0), (25, 1, "m", T0)])  # one behind, one ahead
        second = await paginate(conn, scoped, BY_NAME, PageQuery(first.next_cursor, 10))
    assert [r.id for r in first.items] == [10, 20]
    assert [r.id for r in second.items] == [25, 30, 40]


async def test_a_cursor_carries_no_authority_across_tenants(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await insert(conn, [(i, 1, f"a{i:02}", T0) for i in range(1, 6)])
        await insert(conn, [(i, 2, f"b{i:02}", T0) for i in range(6, 9)])
        first = await paginate(conn, TenantScope(1).select(things), BY_NAME, PageQuery(None, 2))
        # Tenant 2 replays tenant 1's cursor: it only moves within tenant 2's own rows.
        foreign = await paginate(
            conn, TenantScope(2).select(things), BY_NAME, PageQuery(first.next_cursor, 10)
        )
    assert {r.tenant_id for r in foreign.items} == {2}
    assert [r.id for r in foreign.items] == [6, 7, 8]


async def test_malformed_tampered_or_foreign_cursors_are_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await insert(conn, [(i, 1, "x", T0) for i in range(1, 5)])
        scoped = TenantScope(1).select(things)
        good = (await paginate(conn, scoped, BY_NAME, PageQuery(limit=1))).next_cursor
        assert good is not None
        raw = bytearray(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
        raw[-3] ^= 1  # one bit of the key values flipped
        tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        unsigned = base64.urlsafe_b64encode(b'["x",1]').decode()
        other_list = encode_cursor(BY_ID, [1])  # signed, but for another list
        bad_cursors = ["not a cursor", "%%%", "QUJD", tampered, unsigned, other_list, "A" * 5000]
        for bad in bad_cursors:
            with pytest.raises(DomainError) as error:
                await paginate(conn, scoped, BY_NAME, PageQuery(bad, 2))
            assert field_of(error) == ["cursor"], bad
        # An empty cursor is the first page (a client that always sends the parameter).
        first = await paginate(conn, scoped, BY_NAME, PageQuery("", 2))
        resumed = await paginate(conn, scoped, BY_NAME, PageQuery(good, 2))
    assert [r.id for r in first.items] == [1, 2]
    assert [r.id for r in resumed.items] == [2, 3]


def test_a_keyset_refuses_columns_a_cursor_cannot_resume_on() -> None:
    with pytest.raises(ValueError, match="NULL"):
        Keyset("test.nullable", id=things.c.id, sort=things.c.note)
    amounts = Table(
        "amounts",
        MetaData(),
        Column("id", BigInteger, primary_key=True),
        Column("amount", Numeric, nullable=False),
    )
    with pytest.raises(TypeError, match="cannot page"):
        Keyset("test.decimal", id=amounts.c.id, sort=amounts.c.amount)
