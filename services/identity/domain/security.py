"""The workspace's security toggles."""

from __future__ import annotations

from plixa.identity.v1 import events_pb2
from services.identity.domain.models import Tenant
from services.identity.store import accounts as store
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, FieldProblem, not_found


async def current(uow: UnitOfWork) -> Tenant:
    tenant = await store.get_tenant(uow, uow.scope.tenant_id)
    if tenant is None:
        raise not_found("Workspace")
    return tenant


async def update(
    uow: UnitOfWork,
    *,
    require_two_factor: bool | None,
    agent_restricted_to_own_conversations: bool | None,
) -> Tenant:
    changes: dict[str, bool] = {}
    if require_two_factor is not None:
        if require_two_factor:
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
        changes["require_two_factor"] = require_two_factor
    if agent_restricted_to_own_conversations is not None:
        changes["agent_restricted_to_own_conversations"] = agent_restricted_to_own_conversations
    if not changes:
        return await current(uow)
    tenant = await store.update_tenant(uow, **changes)
    uow.emit(
        "identity.security_config.changed",
        events_pb2.SecurityConfigChanged(
            tenant_id=tenant.id,
            require_two_factor=tenant.require_two_factor,
            agent_restricted_to_own_conversations=tenant.agent_restricted_to_own_conversations,
        ),
    )
    if "require_two_factor" in changes:
        uow.emit("identity.access.changed", events_pb2.AccessChanged(tenant_id=tenant.id))
    return tenant
