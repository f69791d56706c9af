"""Every staff mutation is recorded here, in the same transaction as the mutation itself: who
(the staff member, also when acting through an impersonation token), what, which target, a
summary before and after, the request id and the time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from plixa.common.v1.audit_pb2 import ImpersonatedAction
from plixa.common.v1.principal_pb2 import Principal
from services.backoffice.store import audit as audit_store
from services.kit.db import UnitOfWork
from services.kit.logs import request_id_var


def acting_staff(principal: Principal) -> int:
    """The staff member behind a call: a staff token's own, or an impersonation token's."""
    if principal.kind == Principal.KIND_STAFF:
        return principal.staff_id
    return principal.impersonator_staff_id


async def record(
    uow: UnitOfWork,
    action: str,
    *,
    target_type: str,
    target_id: int,
    tenant_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Appends one entry for the caller; a call with no staff member behind it (a member's own
    action) is not a staff mutation and records nothing."""
    principal = uow.principal
    staff_id = acting_staff(principal)
    if not staff_id:
        return
    impersonated = principal.user_id if principal.impersonator_staff_id else None
    await audit_store.append(
        uow.conn,
        staff_id=staff_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        tenant_id=tenant_id,
        before=before,
        after=after,
        request_id=request_id_var.get(),
        impersonated_user_id=impersonated,
        created_at=uow.clock.now(),
    )


async def record_impersonated_action(
    uow: UnitOfWork, action: ImpersonatedAction, at: datetime
) -> None:
    """An impersonation token's change in another service (its `ImpersonatedAction` event,
    written in that change's transaction), attributed to the staff member behind the token."""
    await audit_store.append(
        uow.conn,
        staff_id=action.staff_id,
        action=action.action,
        target_type=action.target_type,
        target_id=action.target_id,
        tenant_id=action.tenant_id or None,
        before=None,
        after={"route": action.route, "events": list(action.events)},
        request_id=action.request_id,
        impersonated_user_id=action.user_id,
        created_at=at,
    )
