"""SQL for the tenant directory replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

tenant_directory = Table(
    "tenant_directory",
    MetaData(schema="backoffice"),
    Column("tenant_id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("slug", Text, nullable=False),
    Column("country_code", Text, nullable=False),
    Column("owner_user_id", BigInteger, nullable=False),
    Column("owner_email", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)


async def remove_tenant(conn: AsyncConnection, tenant_id: int) -> None:
    await conn.execute(tenant_directory.delete().where(tenant_directory.c.tenant_id == tenant_id))


async def add_tenant(
    conn: AsyncConnection,
    *,
    tenant_id: int,
    name: str,
    slug: str,
    country_code: str,
    owner_user_id: int,
    owner_email: str,
    registered_at: datetime,
) -> None:
    await conn.execute(
        insert(tenant_directory)
        .values(
            tenant_id=tenant_id,
            name=name,
            slug=slug,
            country_code=country_code,
            owner_user_id=owner_user_id,
            owner_email=owner_email,
            registered_at=registered_at,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
