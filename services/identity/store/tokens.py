"""SQL for bearer tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update

from services.identity.domain.models import StoredToken
from services.identity.store.tables import tokens
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate

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
    if row is None:
        return None
    return StoredToken(
        id=row.id,
        kind=row.kind,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        staff_id=row.staff_id,
        secret_hash=row.secret_hash,
        abilities=list(row.abilities),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


async def touch(uow: UnitOfWork, token_id: int, at: datetime) -> None:
    await uow.conn.execute(update(tokens).where(tokens.c.id == token_id).values(last_used_at=at))


async def revoke(uow: UnitOfWork, token_id: int, at: datetime) -> bool:
    result = await uow.conn.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool(result.rowcount)


async def list_api(uow: UnitOfWork, page: PageQuery, now: datetime) -> Page[Any]:
    """A page of the caller's workspace's live API tokens (neither revoked nor expired); panel,
    challenge and staff tokens never appear."""
    query = uow.scope.select(tokens).where(
        tokens.c.kind == "api",
        tokens.c.revoked_at.is_(None),
        or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
    )
    return await paginate(uow.conn, query, API_TOKENS_ORDER, page)


async def find_api(uow: UnitOfWork, token_id: int) -> Any | None:
    query = uow.scope.select(tokens).where(
        tokens.c.id == token_id, tokens.c.kind == "api", tokens.c.revoked_at.is_(None)
    )
    return (await uow.conn.execute(query)).one_or_none()


async def get_row(uow: UnitOfWork, token_id: int) -> Any:
    return (await uow.conn.execute(select(tokens).where(tokens.c.id == token_id))).one()
