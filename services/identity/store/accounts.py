"""SQL for workspaces and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from services.identity.domain.models import Tenant, User
from services.identity.store.tables import tenants, users
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate

MEMBERS_ORDER = Keyset("identity.members", id=users.c.id)  # who joined first


def _tenant(row: Any) -> Tenant:
    return Tenant(
        id=row.id,
        name=row.name,
        slug=row.slug,
        country_code=row.country_code,
        timezone=row.timezone,
        locale=row.locale,
        status=row.status,
        tax_id=row.tax_id,
        require_two_factor=row.require_two_factor,
        agent_restricted_to_own_conversations=row.agent_restricted_to_own_conversations,
        currency=row.currency,
        logo_key=row.logo_key,
        onboarding_dismissed_at=row.onboarding_dismissed_at,
    )


def _user(row: Any) -> User:
    return User(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        email=row.email,
        role=row.role,
        locale=row.locale,
        password_hash=row.password_hash,
        two_factor_secret=row.two_factor_secret,
        two_factor_enabled_at=row.two_factor_enabled_at,
        two_factor_last_step=row.two_factor_last_step,
        deletion_requested_at=row.deletion_requested_at,
        deletion_scheduled_for=row.deletion_scheduled_for,
    )


async def slug_taken(uow: UnitOfWork, slug: str) -> bool:
    return bool(await uow.conn.scalar(select(1).where(tenants.c.slug == slug)))


async def email_taken(uow: UnitOfWork, email: str) -> bool:
    query = select(1).where(func.lower(users.c.email) == email.lower())
    return bool(await uow.conn.scalar(query))


async def add_tenant(uow: UnitOfWork, *, created_at: datetime, **values: Any) -> Tenant:
    row = (
        await uow.conn.execute(
            insert(tenants)
            .values(created_at=created_at, status="active", **values)
            .returning(tenants)
        )
    ).one()
    return _tenant(row)


async def add_user(uow: UnitOfWork, tenant_id: int, *, created_at: datetime, **values: Any) -> User:
    """Raises EmailTaken when the unique index refuses the email (a concurrent registration)."""
    try:
        async with uow.conn.begin_nested():
            row = (
                await uow.conn.execute(
                    insert(users)
                    .values(uow.scope_of(tenant_id).row(created_at=created_at, **values))
                    .returning(users)
                )
            ).one()
    except IntegrityError as exc:
        raise EmailTaken from exc
    return _user(row)


class EmailTaken(Exception):
    pass


async def find_user_by_email(uow: UnitOfWork, email: str) -> User | None:
    """Sign-in looks across tenants: the email is the account's global key."""
    row = (
        await uow.conn.execute(select(users).where(func.lower(users.c.email) == email.lower()))
    ).one_or_none()
    return _user(row) if row else None


async def get_user(uow: UnitOfWork, tenant_id: int, user_id: int) -> User | None:
    scope = uow.scope_of(tenant_id)
    row = (await uow.conn.execute(scope.select(users).where(users.c.id == user_id))).one_or_none()
    return _user(row) if row else None


async def get_users(uow: UnitOfWork, tenant_id: int, ids: list[int]) -> list[User]:
    scope = uow.scope_of(tenant_id)
    rows = await uow.conn.execute(
        scope.select(users).where(users.c.id.in_(ids)).order_by(users.c.id)
    )
    return [_user(r) for r in rows]


async def list_members(uow: UnitOfWork, page: PageQuery) -> Page[User]:
    return (await paginate(uow.conn, uow.scope.select(users), MEMBERS_ORDER, page)).map(_user)


async def count_members(uow: UnitOfWork, tenant_id: int) -> int:
    query = uow.scope_of(tenant_id).select(users, func.count())
    return int(await uow.conn.scalar(query) or 0)


async def delete_user(uow: UnitOfWork, user_id: int) -> None:
    """Their tokens and recovery codes go with them (ON DELETE CASCADE)."""
    await uow.conn.execute(uow.scope.delete(users).where(users.c.id == user_id))


async def tenant_with_logo(uow: UnitOfWork, logo_key: str) -> Tenant | None:
    """Logos are public by their unguessable key; no member is signed in to fetch one."""
    row = (
        await uow.conn.execute(select(tenants).where(tenants.c.logo_key == logo_key))
    ).one_or_none()
    return _tenant(row) if row else None


async def claim_due_deletions(uow: UnitOfWork, now: datetime, limit: int = 20) -> list[User]:
    """Deletions whose grace period ended, across tenants; locked so one replica takes each."""
    query = (
        select(users)
        .where(users.c.deletion_scheduled_for <= now)
        .order_by(users.c.deletion_scheduled_for)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [_user(r) for r in await uow.conn.execute(query)]


async def erase_user(uow: UnitOfWork, tenant_id: int, user_id: int) -> None:
    await uow.conn.execute(uow.scope_of(tenant_id).delete(users).where(users.c.id == user_id))


async def erase_tenant(uow: UnitOfWork, tenant_id: int) -> None:
    """Members, tokens, invitations and entitlements go with it (ON DELETE CASCADE)."""
    await uow.conn.execute(tenants.delete().where(tenants.c.id == tenant_id))


async def get_tenant(uow: UnitOfWork, tenant_id: int) -> Tenant | None:
    row = (await uow.conn.execute(select(tenants).where(tenants.c.id == tenant_id))).one_or_none()
    return _tenant(row) if row else None


async def update_tenant(uow: UnitOfWork, **values: Any) -> Tenant:
    """The caller's own workspace."""
    scope = uow.scope
    row = (
        await uow.conn.execute(
            tenants.update()
            .where(tenants.c.id == scope.tenant_id)
            .values(**values)
            .returning(tenants)
        )
    ).one()
    return _tenant(row)


async def update_user(uow: UnitOfWork, user_id: int, **values: Any) -> User:
    row = (
        await uow.conn.execute(
            uow.scope.update(users).where(users.c.id == user_id).values(**values).returning(users)
        )
    ).one()
    return _user(row)
