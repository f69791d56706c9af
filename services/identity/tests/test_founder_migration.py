"""Migration 0011 marks each existing workspace's founding owner: its earliest owner."""

from __future__ import annotations

import asyncio

import asyncpg

from services.kit.migrations import migrate_service
from services.kit.tests.test_migrations import database

__all__ = ["database"]  # the fresh-database fixture of the kit's migration tests

FOUNDER_MIGRATION = "0011_founding_owner"


async def _workspace(conn: asyncpg.Connection, slug: str, roles: list[str]) -> list[int]:
    tenant = await conn.fetchval(
        "INSERT INTO identity.tenants (name, slug, country_code, timezone, locale, created_at)"
        " VALUES ($1, $1, 'BR', 'UTC', 'en', now()) RETURNING id",
        slug,
    )
    ids = []
    for n, role in enumerate(roles):
        ids.append(
            await conn.fetchval(
                "INSERT INTO identity.users"
                " (tenant_id, name, email, password_hash, role, locale, created_at)"
                " VALUES ($1, 'x', $2, 'h', $3, 'en', now()) RETURNING id",
                tenant,
                f"{slug}-{n}@example.com",
                role,
            )
        )
    return ids


def test_the_backfill_marks_the_earliest_owner_of_each_workspace(database: str) -> None:
    async def run() -> dict[int, bool]:
        assert FOUNDER_MIGRATION in await migrate_service("identity", database)
        conn = await asyncpg.connect(database)
        try:
            # Back to the schema before 0011, with workspaces registered then.
            await conn.execute("ALTER TABLE identity.users DROP COLUMN is_founder")
            await conn.execute(
                "DELETE FROM identity.schema_migrations WHERE version = $1", FOUNDER_MIGRATION
            )
            first = await _workspace(conn, "one", ["agent", "owner", "owner"])
            second = await _workspace(conn, "two", ["owner", "agent"])
            assert await migrate_service("identity", database) == [FOUNDER_MIGRATION]
            rows = await conn.fetch("SELECT id, is_founder FROM identity.users")
            marked = {row["id"]: row["is_founder"] for row in rows}
            assert [u for u in first + second if marked[u]] == [first[1], second[0]]
            return marked
        finally:
            await conn.close()

    assert len(asyncio.run(run())) == 5
