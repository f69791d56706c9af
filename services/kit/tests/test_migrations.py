"""The migration runner against a real PostgreSQL: roles, schemas, ordering, idempotence."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest

from services.kit.migrations import (
    advisory_key,
    migrate_service,
    migration_files,
    split_statements,
)
from tests.databases import scratch_database


@pytest.fixture
def database() -> Iterator[str]:
    with scratch_database() as url:
        yield url


def test_migrations_apply_once_as_the_service_role(database: str) -> None:
    first = asyncio.run(migrate_service("identity", database))
    again = asyncio.run(migrate_service("identity", database))
    expected = [path.stem for path in migration_files("identity")]
    assert first == expected
    assert expected[0] == "0001_core"
    assert again == []

    async def inspect() -> tuple[list[str], set[str]]:
        conn = await asyncpg.connect(database)
        try:
            versions = [
                r["version"]
                for r in await conn.fetch(
                    "SELECT version FROM identity.schema_migrations ORDER BY version"
                )
            ]
            owners = {
                r["tableowner"]
                for r in await conn.fetch(
                    "SELECT tableowner FROM pg_tables WHERE schemaname = 'identity'"
                )
            }
            return versions, owners
        finally:
            await conn.close()

    versions, owners = asyncio.run(inspect())
    assert versions == expected
    assert owners == {"plixa_identity"}


def test_concurrent_runners_do_not_collide(database: str) -> None:
    async def both() -> list[list[str]]:
        return list(
            await asyncio.gather(
                migrate_service("backoffice", database), migrate_service("backoffice", database)
            )
        )

    results = asyncio.run(both())
    every = [path.stem for path in migration_files("backoffice")]
    assert sorted(results, key=len) == [[], every]  # one runner applies all, the other none


def test_advisory_keys_are_stable_across_processes() -> None:
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "from services.kit.migrations import advisory_key as k; print(k('migrate:identity'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(other.stdout) == advisory_key("migrate:identity")


def test_statements_split_on_line_ending_semicolons() -> None:
    sql = "-- a comment\nCREATE TABLE a (x text DEFAULT ';');\n\nCREATE INDEX b ON a (x);\n-- end\n"
    assert split_statements(sql) == [
        "-- a comment\nCREATE TABLE a (x text DEFAULT ';')",
        "CREATE INDEX b ON a (x)",
    ]
