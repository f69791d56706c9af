"""The workspace's security toggles."""

from __future__ import annotations

from dataclasses import dataclass

from plixa.identity.v1 import events_pb2
from services.identity.domain.models import Tenant
from services.identity.store import accounts as store
from services.identity.store.accounts import TenantChanges
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, FieldProblem, not_found
from services.kit.protos import checked_change
from services.kit.rows import UNSET, Unset, changed
from services.kit.validation import Checker


async def current(uow: UnitOfWork) -> Tenant:
    tenant = await store.get_tenant(uow, uow.scope.tenant_id)
    if tenant is None:
        raise not_found("Workspace")
    return tenant


@dataclass(frozen=True)
class SecurityChanges:
    """What the toggles update asks for: UNSET was not in the update mask, None was null."""

    require_two_factor: bool | Unset | None = UNSET
    agent_restricted_to_own_conversations: bool | Unset | None = UNSET


def _as_is(field: str, value: bool) -> bool:
    return value


async def update(uow: UnitOfWork, asked: SecurityChanges) -> Tenant:
    check = Checker()
    changes = TenantChanges(
        require_two_factor=checked_change(
            check, "require_two_factor", asked.require_two_factor, _as_is
        ),
        agent_restricted_to_own_conversations=checked_change(
            check,
            "agent_restricted_to_own_conversations",
            asked.agent_restricted_to_own_conversations,
            _as_is,
        ),
    )
    check.done()
    if changes.require_two_factor is True:
        owner = await store.get_user(uow, uow.scope.tenant_id, uow.principal.user_id)
        if owner is None or not owner.two_factor_enabled:
            # Otherwise the owner would lock themselves out at once.
            raise DomainError(
                "OWNER_TWO_FACTOR_REQUIRED",
                "Turn on your own two-factor authentication first.",
                409,
                fields=[
                    FieldProblem(
                        "require_two_factor",
                        "Turn on your own two-factor authentication first.",
                        "owner_two_factor_required",
                    )
                ],
            )
    if not changed(changes):
        return await current(uow)
    tenant = await store.update_tenant(uow, changes)
    uow.emit(
        "identity.security_config.changed",
        events_pb2.SecurityConfigChanged(
            tenant_id=tenant.id,
            require_two_factor=tenant.require_two_factor,
            agent_restricted_to_own_conversations=tenant.agent_restricted_to_own_conversations,
        ),
    )
    if changes.require_two_factor is not UNSET:
        uow.emit("identity.access.changed", events_pb2.AccessChanged(tenant_id=tenant.id))
    return tenant
