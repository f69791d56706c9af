"""Workspace-wide settings: time zone, locale, currency, logo."""

from __future__ import annotations

from plixa.identity.v1 import events_pb2
from services.identity.domain import logos
from services.identity.domain.models import Tenant
from services.identity.store import accounts as store
from services.kit.db import UnitOfWork
from services.kit.errors import not_found
from services.kit.validation import Checker


async def current(uow: UnitOfWork) -> Tenant:
    tenant = await store.get_tenant(uow, uow.scope.tenant_id)
    if tenant is None:
        raise not_found("Workspace")
    return tenant


async def update(
    uow: UnitOfWork, *, timezone: str | None, locale: str | None, currency: str | None
) -> Tenant:
    check = Checker()
    changes: dict[str, str] = {}
    if timezone is not None:
        changes["timezone"] = check.timezone("timezone", timezone)
    if locale is not None:
        changes["locale"] = check.locale("locale", locale)
    if currency is not None:
        changes["currency"] = check.currency("currency", currency)
    check.done()
    if not changes:
        return await current(uow)
    tenant = await store.update_tenant(uow, **changes)
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
    return await store.update_tenant(uow, logo_key=key), previous


async def remove_logo(uow: UnitOfWork) -> tuple[Tenant, str | None]:
    previous = (await current(uow)).logo_key
    return await store.update_tenant(uow, logo_key=None), previous


async def logo(uow: UnitOfWork, storage: logos.LogoStorage, key: str) -> tuple[bytes, str]:
    found = storage.read(key)
    if found is None or await store.tenant_with_logo(uow, key) is None:
        raise not_found("Logo")
    return found
