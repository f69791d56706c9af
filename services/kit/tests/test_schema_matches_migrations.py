"""Every service's SQLAlchemy tables against the schema its migrations really create.

The migrations are applied to a fresh database; the columns are read back from
information_schema and compared with each Table: names, types (normalised) and nullability. A
column (or a table) added on one side only fails the build. Services are discovered: every Table
object found in `services/<name>/store/` is compared, plus the kit's own outbox table in every
service's schema, so a new service is covered as soon as it has a store."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil

import asyncpg
import pytest
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from services.kit.config import SERVICES
from services.kit.migrations import SERVICES_DIR, migrate_service
from services.kit.outbox import outbox_table
from services.kit.tests.test_migrations import database

__all__ = ["database"]  # the fresh-database fixture, shared with the migration tests

# Kit tables the kit writes with plain SQL (no Table object to compare against).
KIT_SQL_ONLY = {"schema_migrations", "processed_events", "dead_events"}
# information_schema spells some types differently from SQLAlchemy's DDL compiler.
TYPE_ALIASES = {
    "character varying": "varchar",
    "character": "char",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "double precision": "float8",
    "real": "float4",
    "integer": "int",
    "int4": "int",
    "bigint": "int8",
    "smallint": "int2",
    "boolean": "bool",
}

Columns = dict[str, tuple[str, bool]]  # name → (type, nullable)


def _normal_type(name: str) -> str:
    """Lower case, information_schema's long names shortened; a length stays: char(2)."""
    name = name.lower().strip()
    if name.endswith("[]"):
        return _normal_type(name[:-2]) + "[]"
    base, _, length = name.partition("(")
    base = TYPE_ALIASES.get(base.strip(), base.strip())
    return f"{base}({length}" if length else base


def store_tables(service: str) -> dict[str, Table]:
    """Every Table in the service's store modules that lives in the service's schema."""
    package = f"services.{service}.store"
    if not (SERVICES_DIR / service / "store").is_dir():
        return {}
    found: dict[str, Table] = {}
    modules = [importlib.import_module(package)]
    for info in pkgutil.iter_modules([str(SERVICES_DIR / service / "store")]):
        modules.append(importlib.import_module(f"{package}.{info.name}"))
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Table) and value.schema == service:
                found[value.name] = value
    return found


def declared(service: str) -> dict[str, Columns]:
    tables = {**store_tables(service), "outbox": outbox_table(service)}
    dialect = postgresql.dialect()
    return {
        name: {
            column.name: (_normal_type(column.type.compile(dialect=dialect)), bool(column.nullable))
            for column in table.columns
        }
        for name, table in tables.items()
    }


async def migrated(database_url: str, service: str) -> dict[str, Columns]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """
            SELECT table_name, column_name, data_type, udt_name, is_nullable,
                   character_maximum_length
            FROM information_schema.columns
            WHERE table_schema = $1
            ORDER BY table_name, ordinal_position
            """,
            service,
        )
    finally:
        await conn.close()
    tables: dict[str, Columns] = {}
    for row in rows:
        kind = row["data_type"]
        if kind == "ARRAY":  # udt_name is the element type with a leading underscore
            kind = f"{row['udt_name'][1:]}[]"
        elif kind == "USER-DEFINED":
            kind = row["udt_name"]
        if row["character_maximum_length"] is not None:
            kind = f"{kind}({row['character_maximum_length']})"
        tables.setdefault(row["table_name"], {})[row["column_name"]] = (
            _normal_type(kind),
            row["is_nullable"] == "YES",
        )
    return tables


def differences(declared_tables: dict[str, Columns], real: dict[str, Columns]) -> list[str]:
    problems = []
    for table in sorted(set(real) - set(declared_tables) - KIT_SQL_ONLY):
        problems.append(f"{table}: created by the migrations, but no Table declares it")
    for table, columns in sorted(declared_tables.items()):
        if table not in real:
            problems.append(f"{table}: declared, but the migrations never create it")
            continue
        for column in sorted(set(columns) | set(real[table])):
            if column not in real[table]:
                problems.append(f"{table}.{column}: declared, but not in the migrations")
            elif column not in columns:
                problems.append(f"{table}.{column}: in the migrations, but not declared")
            elif columns[column] != real[table][column]:
                problems.append(
                    f"{table}.{column}: declared {columns[column]}, migrated {real[table][column]}"
                )
    return problems


def test_services_with_tables_are_discovered() -> None:
    """The comparison below would pass vacuously if discovery found nothing."""
    assert {"users", "tenants", "tokens", "invitations"} <= set(store_tables("identity"))
    assert "tenant_directory" in store_tables("backoffice")


@pytest.fixture
def migrated_database(database: str) -> str:
    async def migrate_all() -> None:
        for service in SERVICES:
            await migrate_service(service, database)

    asyncio.run(migrate_all())
    return database


def test_every_table_matches_what_the_migrations_create(migrated_database: str) -> None:
    problems = []
    for service in SERVICES:
        real = asyncio.run(migrated(migrated_database, service))
        problems += [f"{service}.{p}" for p in differences(declared(service), real)]
    assert problems == []


def test_a_column_on_one_side_only_is_reported() -> None:
    """The comparison itself: what a drift looks like."""
    declared_tables: dict[str, Columns] = {"t": {"id": ("int8", False), "extra": ("text", True)}}
    real: dict[str, Columns] = {
        "t": {"id": ("int8", False), "added": ("text", True)},
        "u": {"id": ("int8", False)},
        "processed_events": {"consumer": ("text", False)},
    }
    assert differences(declared_tables, real) == [
        "u: created by the migrations, but no Table declares it",
        "t.added: in the migrations, but not declared",
        "t.extra: declared, but not in the migrations",
    ]
    assert differences({"t": {"id": ("text", False)}}, {"t": {"id": ("int8", True)}}) == [
        "t.id: declared ('text', False), migrated ('int8', True)"
    ]
