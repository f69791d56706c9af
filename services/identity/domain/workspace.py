"""Workspace-wide settings: time zone, locale, currency, logo."""

from __future__ import annotations

from dataclasses import dataclass

from plixa.identity.v1 import events_pb2
from services.identity.domain import logos
from services.identity.domain.models import Tenant
from services.identity.store import accounts as store
from services.identity.store.accounts import TenantChanges
from services.kit.db import UnitOfWork
from services.kit.errors import not_found
from services.kit.protos import checked_change
from services.kit.rows import UNSET, Unset, changed
from services.kit.validation import Checker


async def current(uow: UnitOfWork) -> Tenant:
    tenant = await store.get_tenant(uow, uow.scope.tenant_id)
    if tenant is None:
        raise not_found("Workspace")
    return tenant


@dataclass(frozen=True)
class WorkspaceChanges:
    """What the settings update asks for: UNSET was not in the update mask, None was null."""

    timezone: str | Unset | None = UNSET
    locale: str | Unset | None = UNSET
    currency: str | Unset | None = UNSET


async def update(uow: UnitOfWork, asked: WorkspaceChanges) -> Tenant:
    """None of the settings may be cleared."""
    check = Checker()
    changes = TenantChanges(
        timezone=checked_change(check, "timezone", asked.timezone, check.timezone),
        locale=checked_change(check, "locale", asked.locale, check.locale),
        currency=checked_change(check, "currency", asked.currency, check.currency),
    )
    check.done()
    if not changed(changes):
        return await current(uow)
    tenant = await store.update_tenant(uow, changes)
    uow.emit(
        "identity.workspace.changed",
        events_pb2.WorkspaceChanged(
            tenant_id=tenant.id,
            timezone=tenant.timezone,
            locale=tenant.locale,
            currency=tenant.currency,
        ),
    )
    return tenant


async def replace_logo(
    uow: UnitOfWork, storage: logos.LogoStorage, data: bytes
) -> tuple[Tenant, str | None]:
    """Stores the new logo; returns the workspace and the key of the logo it replaced."""
    kind = logos.check(data)
    previous = (await current(uow)).logo_key
    key = storage.save(data, kind)
    return await store.update_tenant(uow, TenantChanges(logo_key=key)), previous


async def remove_logo(uow: UnitOfWork) -> tuple[Tenant, str | None]:
    previous = (await current(uow)).logo_key
    return await store.update_tenant(uow, TenantChanges(logo_key=None)), previous


async def logo(uow: UnitOfWork, storage: logos.LogoStorage, key: str) -> tuple[bytes, str]:
    found = storage.read(key)
    if found is None or await store.tenant_with_logo(uow, key) is None:
        raise not_found("Logo")
    return found
