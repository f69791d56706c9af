"""SQL for team invitations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from services.identity.domain.models import InvitationRecord
from services.identity.store.tables import invitations
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row

INVITATIONS_ORDER = Keyset(
    "identity.invitations", id=invitations.c.id, sort=invitations.c.created_at, descending=True
)  # newest first


@dataclass(frozen=True)
class InvitationChanges:
    accepted_at: datetime | Unset = UNSET
    accepted_user_id: int | Unset = UNSET
    cancelled_at: datetime | Unset = UNSET


async def add(
    uow: UnitOfWork,
    *,
    email: str,
    role: str,
    token_hash: bytes,
    token_sealed: str,
    invited_by: int | None,
    expires_at: datetime,
    created_at: datetime,
) -> InvitationRecord:
    values = uow.scope.row(
        email=email,
        role=role,
        token_hash=token_hash,
        token_sealed=token_sealed,
        invited_by=invited_by,
        expires_at=expires_at,
        created_at=created_at,
    )
    statement = insert(invitations).values(values).returning(invitations)
    return from_row(InvitationRecord, (await uow.conn.execute(statement)).one())


async def get(uow: UnitOfWork, invitation_id: int) -> InvitationRecord | None:
    query = uow.scope.select(invitations).where(invitations.c.id == invitation_id)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(InvitationRecord, row) if row else None


async def get_of(uow: UnitOfWork, tenant_id: int, invitation_id: int) -> InvitationRecord | None:
    """An invitation of an explicit tenant (internal callers have no member's scope)."""
    query = uow.scope_of(tenant_id).select(invitations).where(invitations.c.id == invitation_id)
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(InvitationRecord, row) if row else None


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[InvitationRecord]:
    """A page of the workspace's invitations, whatever their status."""
    rows = await paginate(uow.conn, uow.scope.select(invitations), INVITATIONS_ORDER, page)
    return rows.map(lambda row: from_row(InvitationRecord, row))


async def find_by_token_hash(uow: UnitOfWork, token_hash: bytes) -> InvitationRecord | None:
    """Acceptance comes before any sign-in: the token itself names the workspace."""
    query = select(invitations).where(invitations.c.token_hash == token_hash).with_for_update()
    row = (await uow.conn.execute(query)).one_or_none()
    return from_row(InvitationRecord, row) if row else None


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


async def pending_for_email(uow: UnitOfWork, email: str, now: datetime) -> InvitationRecord | None:
    query = uow.scope.select(invitations).where(
        func.lower(invitations.c.email) == email.lower(),
        invitations.c.accepted_at.is_(None),
        invitations.c.cancelled_at.is_(None),
        invitations.c.expires_at > now,
    )
    row = (await uow.conn.execute(query)).first()
    return from_row(InvitationRecord, row) if row else None


async def update(
    uow: UnitOfWork, tenant_id: int, invitation_id: int, changes: InvitationChanges
) -> None:
    statement = (
        uow.scope_of(tenant_id)
        .update(invitations)
        .where(invitations.c.id == invitation_id)
        .values(**changed(changes))
    )
    await uow.conn.execute(statement)
