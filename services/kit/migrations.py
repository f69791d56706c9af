"""Ordered SQL migrations per service, applied under an advisory lock, recorded in the schema.

Each service gets its own schema and its own login role that owns it and nothing else; migrations
run as that role, so every table belongs to it.

Run: `python -m services.kit.migrations [service …]`."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import pathlib
import re
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from services.kit.config import SERVICES, asyncpg_url, database_url, role_name, setting

log = logging.getLogger("plixa.migrations")
SERVICES_DIR = pathlib.Path(__file__).resolve().parent.parent
NAME_PATTERN = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

# The kit's own tables, present in every service schema before its migrations run.
KIT_TABLES = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS outbox (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    subject text NOT NULL,
    payload bytea NOT NULL,
    tenant_id bigint,
    created_at timestamptz NOT NULL,
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS processed_events (
    consumer text NOT NULL,
    event_id text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE TABLE IF NOT EXISTS dead_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer text NOT NULL,
    subject text NOT NULL,
    event_id text NOT NULL,
    payload bytea NOT NULL,
    error text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
"""


def advisory_key(name: str) -> int:
    """A lock key that is the same in every process (unlike hash(), which Python salts)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def migration_files(service: str) -> list[pathlib.Path]:
    folder = SERVICES_DIR / service / "migrations"
    files = sorted(p for p in folder.glob("*.sql"))
    for path in files:
        if not NAME_PATTERN.match(path.name):
            raise ValueError(f"migration {path} must be named NNNN_description.sql")
    return files


def split_statements(sql: str) -> list[str]:
    """asyncpg runs one statement per execute; our migrations keep `;` at line ends only."""
    parts = re.split(r";\s*(?:\n|$)", sql)
    return [p.strip() for p in parts if p.strip() and not _only_comments(p)]


def _only_comments(chunk: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in chunk.splitlines())


async def _ensure_role_and_schema(conn: AsyncConnection, service: str) -> None:
    role = role_name(service)
    exists = await conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    if not exists:
        await conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    password = setting(f"PLIXA_{service.upper()}_DB_PASSWORD", "")
    if password:
        await conn.execute(
            text(f"ALTER ROLE \"{role}\" PASSWORD '{password.replace(chr(39), '')}'")
        )
    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{service}" AUTHORIZATION "{role}"'))
    await conn.execute(text(f'REVOKE ALL ON SCHEMA "{service}" FROM PUBLIC'))


async def migrate_service(service: str, admin_url: str | None = None) -> list[str]:
    """Applies the pending migrations of one service; returns the versions applied."""
    engine = create_async_engine(asyncpg_url(admin_url or database_url()), hide_parameters=True)
    applied: list[str] = []
    try:
        async with engine.connect() as conn:
            await conn.execute(
                text("SELECT pg_advisory_lock(:k)"),
                {"k": advisory_key(f"migrate:{service}")},
            )
            await conn.commit()
            try:
                async with conn.begin():
                    await _ensure_role_and_schema(conn, service)
                async with conn.begin():
                    await _as_service_role(conn, service)
                    for statement in split_statements(KIT_TABLES):
                        await conn.execute(text(statement))
                    done = set(
                        (await conn.execute(text("SELECT version FROM schema_migrations")))
                        .scalars()
                        .all()
                    )
                for path in migration_files(service):
                    version = path.stem
                    if version in done:
                        continue
                    sql = path.read_text()
                    async with conn.begin():
                        await _as_service_role(conn, service)
                        for statement in split_statements(sql):
                            await conn.exec_driver_sql(statement)
                        await conn.execute(
                            text(
                                "INSERT INTO schema_migrations (version, checksum) VALUES (:v, :c)"
                            ),
                            {
                                "v": version,
                                "c": hashlib.sha256(sql.encode()).hexdigest(),
                            },
                        )
                    applied.append(version)
                    log.info("applied %s.%s", service, version)
            finally:
                await conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"),
                    {"k": advisory_key(f"migrate:{service}")},
                )
                await conn.commit()
    finally:
        await engine.dispose()
    return applied


async def _as_service_role(conn: AsyncConnection, service: str) -> None:
    await conn.execute(text(f'SET LOCAL ROLE "{role_name(service)}"'))
    await conn.execute(text(f'SET LOCAL search_path = "{service}"'))


async def ensure_database(admin_url: str | None = None) -> None:
    """Creates the database named in the URL when it is missing (local runs and tests)."""
    url = admin_url or database_url()
    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    engine = create_async_engine(
        asyncpg_url(f"{base}/postgres"), isolation_level="AUTOCOMMIT", hide_parameters=True
    )
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if not found:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def migrate_all(services: list[str] | None = None, admin_url: str | None = None) -> None:
    await ensure_database(admin_url)
    for service in services or list(SERVICES):
        await migrate_service(service, admin_url)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    asyncio.run(migrate_all(sys.argv[1:] or None))
