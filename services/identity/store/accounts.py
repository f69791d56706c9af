"""SQL for workspaces and their members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from services.identity.domain.models import Tenant, User
from services.identity.store.tables import tenants, users
from services.kit.db import UnitOfWork
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, changed, from_row, from_rows

MEMBERS_ORDER = Keyset("identity.members", id=users.c.id)  # who joined first


@dataclass(frozen=True)
class TenantChanges:
    """Columns of the caller's workspace an update may write; UNSET ones stay as they are."""

    timezone: str | Unset = UNSET
    locale: str | Unset = UNSET
    currency: str | Unset = UNSET
    logo_key: str | Unset | None = UNSET
    require_two_factor: bool | Unset = UNSET
    agent_restricted_to_own_conversations: bool | Unset = UNSET
    onboarding_dismissed_at: datetime | Unset | None = UNSET


@dataclass(frozen=True)
class UserChanges:
    name: str | Unset = UNSET
    locale: str | Unset = UNSET
    two_factor_secret: str | Unset | None = UNSET
    two_factor_enabled_at: datetime | Unset | None = UNSET
    two_factor_last_step: int | Unset | None = UNSET
    deletion_requested_at: datetime | Unset | None = UNSET
    deletion_scheduled_for: datetime | Unset | None = UNSET


async def slug_taken(uow: UnitOfWork, slug: str) -> bool:
    return bool(await uow.conn.scalar(select(1).where(tenants.c.slug == slug)))


async def email_taken(uow: UnitOfWork, email: str) -> bool:
    query = select(1).where(func.lower(users.c.email) == email.lower())
    return bool(await uow.conn.scalar(query))


async def add_tenant(
    uow: UnitOfWork,
    *,
    created_at: datetime,
    name: str,
    slug: str,
    country_code: str,
    timezone: str,
    locale: str,
    tax_id: str | None,
) -> Tenant:
    statement = (
        insert(tenants)
        .values(
            created_at=created_at,
            status="active",
            name=name,
            slug=slug,
            country_code=country_code,
            timezone=timezone,
            locale=locale,
            tax_id=tax_id,
        )
        .returning(tenants)
    )
    return from_row(Tenant, (await uow.conn.execute(statement)).one())


async def add_user(
    uow: UnitOfWork,
    tenant_id: int,
    *,
    created_at: datetime,
    name: str,
    email: str,
    password_hash: str,
    role: str,
    locale: str,
    is_founder: bool = False,
) -> User:
    """Raises EmailTaken when the unique index refuses the email (a concurrent registration)."""
    values = uow.scope_of(tenant_id).row(
        created_at=created_at,
        name=name,
        email=email,
        password_hash=password_hash,
        role=role,
        locale=locale,
        is_founder=is_founder,
    )
    try:
        async with uow.conn.begin_nested():
            row = (await uow.conn.execute(insert(users).values(values).returning(users))).one()
    except IntegrityError as exc:
        raise EmailTaken from exc
    return from_row(User, row)


class EmailTaken(Exception):
    pass


async def find_user_by_email(uow: UnitOfWork, email: str) -> User | None:
    """Sign-in looks across tenants: the email is the account's global key."""
    row = (
        await uow.conn.execute(select(users).where(func.lower(users.c.email) == email.lower()))
    ).one_or_none()
    return from_row(User, row) if row else None


async def get_user(uow: UnitOfWork, tenant_id: int, user_id: int) -> User | None:
    scope = uow.scope_of(tenant_id)
    row = (await uow.conn.execute(scope.select(users).where(users.c.id == user_id))).one_or_none()
    return from_row(User, row) if row else None


async def get_users(uow: UnitOfWork, tenant_id: int, ids: list[int]) -> list[User]:
    scope = uow.scope_of(tenant_id)
    rows = await uow.conn.execute(
        scope.select(users).where(users.c.id.in_(ids)).order_by(users.c.id)
    )
    return from_rows(User, rows)


async def list_members(uow: UnitOfWork, page: PageQuery) -> Page[User]:
    rows = await paginate(uow.conn, uow.scope.select(users), MEMBERS_ORDER, page)
    return rows.map(lambda row: from_row(User, row))


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
    return from_row(Tenant, row) if row else None


async def claim_due_deletions(uow: UnitOfWork, now: datetime, limit: int = 20) -> list[User]:
    """Deletions whose grace period ended, across tenants; locked so one replica takes each."""
    query = (
        select(users)
        .where(users.c.deletion_scheduled_for <= now)
        .order_by(users.c.deletion_scheduled_for)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return from_rows(User, await uow.conn.execute(query))


async def erase_user(uow: UnitOfWork, tenant_id: int, user_id: int) -> None:
    await uow.conn.execute(uow.scope_of(tenant_id).delete(users).where(users.c.id == user_id))


async def erase_tenant(uow: UnitOfWork, tenant_id: int) -> None:
    """Members, tokens, invitations and entitlements go with it (ON DELETE CASCADE)."""
    await uow.conn.execute(tenants.delete().where(tenants.c.id == tenant_id))


async def get_tenant(uow: UnitOfWork, tenant_id: int) -> Tenant | None:
    row = (await uow.conn.execute(select(tenants).where(tenants.c.id == tenant_id))).one_or_none()
    return from_row(Tenant, row) if row else None


async def set_tenant_status(uow: UnitOfWork, tenant_id: int, status: str) -> None:
    """A staff action (through the backoffice), not the workspace's own."""
    await uow.conn.execute(tenants.update().where(tenants.c.id == tenant_id).values(status=status))


async def update_tenant(uow: UnitOfWork, changes: TenantChanges) -> Tenant:
    """The caller's own workspace."""
    statement = tenants.update().where(tenants.c.id == uow.scope.tenant_id)
    if values := changed(changes):
        statement = statement.values(**values)
    else:  # nothing to write: still answer the current row
        statement = statement.values(id=tenants.c.id)
    return from_row(Tenant, (await uow.conn.execute(statement.returning(tenants))).one())


async def update_user(uow: UnitOfWork, user_id: int, changes: UserChanges) -> User:
    statement = uow.scope.update(users).where(users.c.id == user_id)
    if values := changed(changes):
        statement = statement.values(**values)
    else:
        statement = statement.values(id=users.c.id)
    return from_row(User, (await uow.conn.execute(statement.returning(users))).one())
