"""SQL for team invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from services.identity.store.tables import invitations
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate

INVITATIONS_ORDER = Keyset(
    "identity.invitations", id=invitations.c.id, sort=invitations.c.created_at, descending=True
)  # newest first


async def add(uow: UnitOfWork, **values: Any) -> Any:
    statement = insert(invitations).values(uow.scope.row(**values)).returning(invitations)
    return (await uow.conn.execute(statement)).one()


async def get(uow: UnitOfWork, invitation_id: int) -> Any | None:
    query = uow.scope.select(invitations).where(invitations.c.id == invitation_id)
    return (await uow.conn.execute(query)).one_or_none()


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[Any]:
    """A page of the workspace's invitations, whatever their status."""
    return await paginate(uow.conn, uow.scope.select(invitations), INVITATIONS_ORDER, page)


async def find_by_token_hash(uow: UnitOfWork, token_hash: bytes) -> Any | None:
    """Acceptance comes before any sign-in: the token itself names the workspace."""
    query = select(invitations).where(invitations.c.token_hash == token_hash).with_for_update()
    return (await uow.conn.execute(query)).one_or_none()


async def any_sent(uow: UnitOfWork) -> bool:
    query = uow.scope.select(invitations, invitations.c.id).limit(1)
    return (await uow.conn.scalar(query)) is not None


async def count_pending(uow: UnitOfWork, tenant_id: int, now: datetime) -> int:
    query = (
        uow.scope_of(tenant_id)
        .select(invitations, func.count())
        .where(
            invitations.c.accepted_at.is_(None),
            invitations.c.cancelled_at.is_(None),
            invitations.c.expires_at > now,
        )
    )
    return int(await uow.conn.scalar(query) or 0)


async def pending_for_email(uow: UnitOfWork, email: str, now: datetime) -> Any | None:
    query = uow.scope.select(invitations).where(
        func.lower(invitations.c.email) == email.lower(),
        invitations.c.accepted_at.is_(None),
        invitations.c.cancelled_at.is_(None),
        invitations.c.expires_at > now,
    )
    return (await uow.conn.execute(query)).first()


async def update(uow: UnitOfWork, tenant_id: int, invitation_id: int, **values: Any) -> None:
    statement = (
        uow.scope_of(tenant_id)
        .update(invitations)
        .where(invitations.c.id == invitation_id)
        .values(**values)
    )
    await uow.conn.execute(statement)
