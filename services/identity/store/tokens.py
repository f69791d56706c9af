"""SQL for bearer tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update

from services.identity.domain.models import StoredToken, TokenRecord
from services.identity.store.tables import tokens
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row

API_TOKENS_ORDER = Keyset("identity.api_tokens", id=tokens.c.id)  # oldest first


async def add(
    uow: UnitOfWork,
    *,
    kind: str,
    name: str,
    secret_hash: bytes,
    prefix: str,
    abilities: list[str],
    created_at: datetime,
    tenant_id: int | None = None,
    user_id: int | None = None,
    staff_id: int | None = None,
    expires_at: datetime | None = None,
) -> int:
    values: dict[str, Any] = dict(
        kind=kind,
        name=name,
        secret_hash=secret_hash,
        prefix=prefix,
        abilities=abilities,
        created_at=created_at,
        tenant_id=tenant_id,
        user_id=user_id,
        staff_id=staff_id,
        expires_at=expires_at,
    )
    return int(await uow.conn.scalar(insert(tokens).values(**values).returning(tokens.c.id)))


async def find(uow: UnitOfWork, token_id: int) -> StoredToken | None:
    """Token lookup precedes knowing the tenant: the id comes from the bearer itself."""
    row = (await uow.conn.execute(select(tokens).where(tokens.c.id == token_id))).one_or_none()
    return from_row(StoredToken, row) if row else None


async def touch(uow: UnitOfWork, token_id: int, at: datetime) -> None:
    await uow.conn.execute(update(tokens).where(tokens.c.id == token_id).values(last_used_at=at))


async def revoke(uow: UnitOfWork, token_id: int, at: datetime) -> bool:
    result = await uow.conn.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool(result.rowcount)


async def revoke_all_of_staff(uow: UnitOfWork, staff_id: int, at: datetime) -> list[int]:
    """Revokes every live token of a staff account; the ids revoked."""
    result = await uow.conn.execute(
        update(tokens)
        .where(tokens.c.staff_id == staff_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
        .returning(tokens.c.id)
    )
    return [int(token_id) for token_id in result.scalars()]


async def list_api(uow: UnitOfWork, page: PageQuery, now: datetime) -> Page[TokenRecord]:
    """A page of the caller's workspace's live API tokens (neither revoked nor expired); panel,
    challenge and staff tokens never appear."""
    query = uow.scope.select(tokens).where(
        tokens.c.kind == "api",
        tokens.c.revoked_at.is_(None),
        or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
    )
    rows = await paginate(uow.conn, query, API_TOKENS_ORDER, page)
    return rows.map(lambda row: from_row(TokenRecord, row))


async def find_api(uow: UnitOfWork, token_id: int) -> TokenRecord | None:
    query = uow.scope.select(tokens).where(
        tokens.c.id == token_id, tokens.c.kind == "api", tokens.c.revoked_at.is_(None)
    )
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(TokenRecord, row) if row else None


async def get_record(uow: UnitOfWork, token_id: int) -> TokenRecord:
    row = (await uow.conn.execute(select(tokens).where(tokens.c.id == token_id))).one()
    return from_row(TokenRecord, row)
