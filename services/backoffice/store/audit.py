"""SQL for the audit log: appended to, read with filters, never edited (the table's trigger
refuses it); a workspace's erasure clears only the summaries of its entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Table, Text, insert, null, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from services.backoffice.store.tenant_directory import metadata
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("staff_id", BigInteger, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_type", Text, nullable=False),
    Column("target_id", BigInteger, nullable=False),
    Column("tenant_id", BigInteger),
    # SQL NULL for "no summary" (not JSON null): the table's trigger lets an erasure clear them.
    Column("before", JSONB(none_as_null=True)),
    Column("after", JSONB(none_as_null=True)),
    Column("request_id", Text, nullable=False),
    Column("impersonated_user_id", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

AUDIT_ORDER = Keyset("backoffice.audit_log", id=audit_log.c.id, descending=True)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    staff_id: int
    action: str
    target_type: str
    target_id: int
    tenant_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str
    impersonated_user_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class AuditFilter:
    staff_id: int | None = None
    tenant_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def append(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(audit_log).values(**values))


async def list_page(conn: AsyncConnection, where: AuditFilter, page: PageQuery) -> Page[AuditEntry]:
    query = select(audit_log)
    if where.staff_id is not None:
        query = query.where(audit_log.c.staff_id == where.staff_id)
    if where.tenant_id is not None:
        query = query.where(audit_log.c.tenant_id == where.tenant_id)
    if where.action is not None:
        query = query.where(audit_log.c.action == where.action)
    if where.since is not None:
        query = query.where(audit_log.c.created_at >= where.since)
    if where.until is not None:
        query = query.where(audit_log.c.created_at < where.until)
    rows = await paginate(conn, query, AUDIT_ORDER, page)
    return rows.map(lambda row: from_row(AuditEntry, row))


async def forget_tenant(conn: AsyncConnection, tenant_id: int) -> None:
    """An erased workspace's entries keep only ids (who, what, which target, when)."""
    await conn.execute(
        audit_log.update()
        .where(audit_log.c.tenant_id == tenant_id)
        .values(before=null(), after=null())
    )
