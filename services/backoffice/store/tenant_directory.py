"""SQL for the tenant directory replica (fed by identity's and billing's events, and by the
backoffice's own suspensions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row

metadata = MetaData(schema="backoffice")

tenant_directory = Table(
    "tenant_directory",
    metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("slug", Text, nullable=False),
    Column("country_code", Text, nullable=False),
    Column("owner_user_id", BigInteger, nullable=False),
    Column("owner_email", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("members", Integer, nullable=False),
)

TENANTS_ORDER = Keyset(
    "backoffice.tenants",
    id=tenant_directory.c.tenant_id,
    sort=tenant_directory.c.registered_at,
    descending=True,
)


@dataclass(frozen=True)
class DirectoryTenant:
    tenant_id: int
    name: str
    slug: str
    country_code: str
    owner_user_id: int
    owner_email: str
    registered_at: datetime
    status: str
    plan: str
    members: int


@dataclass(frozen=True)
class TenantFilter:
    status: str | None = None
    plan: str | None = None
    q: str | None = None


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


async def get(conn: AsyncConnection, tenant_id: int) -> DirectoryTenant | None:
    query = select(tenant_directory).where(tenant_directory.c.tenant_id == tenant_id)
    row = (await conn.execute(query)).one_or_none()
    return from_row(DirectoryTenant, row) if row else None


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_page(
    conn: AsyncConnection, where: TenantFilter, page: PageQuery
) -> Page[DirectoryTenant]:
    """Newest first. The directory spans every workspace: it is the staff's cross-tenant view."""
    query = select(tenant_directory)
    if where.status:
        query = query.where(tenant_directory.c.status == where.status)
    if where.plan is not None:
        query = query.where(tenant_directory.c.plan == where.plan)
    if where.q:
        pattern = f"%{_escaped(where.q)}%"
        query = query.where(
            or_(
                tenant_directory.c.name.ilike(pattern),
                tenant_directory.c.slug.ilike(pattern),
                tenant_directory.c.owner_email.ilike(pattern),
            )
        )
    rows = await paginate(conn, query, TENANTS_ORDER, page)
    return rows.map(lambda row: from_row(DirectoryTenant, row))


async def set_status(conn: AsyncConnection, tenant_id: int, status: str) -> None:
    await conn.execute(
        tenant_directory.update()
        .where(tenant_directory.c.tenant_id == tenant_id)
        .values(status=status)
    )


async def set_plan(conn: AsyncConnection, tenant_id: int, plan: str) -> None:
    await conn.execute(
        tenant_directory.update().where(tenant_directory.c.tenant_id == tenant_id).values(plan=plan)
    )


async def count_member(conn: AsyncConnection, tenant_id: int, delta: int) -> None:
    await conn.execute(
        tenant_directory.update()
        .where(tenant_directory.c.tenant_id == tenant_id)
        .values(members=tenant_directory.c.members + delta)
    )
