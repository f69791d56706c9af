"""Scratch PostgreSQL databases for kit tests: created empty, dropped (forcefully) afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from tests.conftest import ADMIN_URL


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def scratch_database(prefix: str = "plixa_kit") -> Iterator[str]:
    """The URL of a new, empty database; it is dropped when the block ends."""
    base, _, _ = ADMIN_URL.rpartition("/")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def scratch_schema(schema: str, ddl: str, prefix: str = "plixa_test") -> Iterator[str]:
    """A scratch database holding `schema`, with `ddl` run in it (its search path); the URL."""

    async def create(url: str) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"CREATE SCHEMA {schema}; SET search_path = {schema}")
            await conn.execute(ddl)
        finally:
            await conn.close()

    with scratch_database(prefix) as url:
        asyncio.run(create(url))
        yield url
