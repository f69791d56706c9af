"""Account deletion: a password-gated request, a grace period during which it can be cancelled,
then a scheduled job that erases. The founding owner's deletion erases the whole workspace; anyone
else's (an agent's, a co-owner's) erases only their own account, so a co-owner can never erase the
workspace. Events tell every service to erase its own rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from plixa.identity.v1 import events_pb2
from services.identity.domain.models import User
from services.identity.store import accounts as store
from services.identity.store.accounts import UserChanges
from services.kit.db import UnitOfWork
from services.kit.errors import conflict


@dataclass(frozen=True)
class DeletionState:
    scheduled: bool
    scope: str
    requested_at: datetime | None
    scheduled_for: datetime | None


def scope_of(user: User) -> str:
    return "workspace" if user.is_founder else "user"


def state_of(user: User) -> DeletionState:
    return DeletionState(
        scheduled=user.deletion_scheduled_for is not None,
        scope=scope_of(user),
        requested_at=user.deletion_requested_at,
        scheduled_for=user.deletion_scheduled_for,
    )


def _announce(uow: UnitOfWork, user: User, subject: str, scheduled: bool) -> None:
    uow.emit(
        subject,
        events_pb2.AccountDeletionChanged(
            user_id=user.id, tenant_id=user.tenant_id, scope=scope_of(user), scheduled=scheduled
        ),
        tenant_id=user.tenant_id,
    )


async def request(uow: UnitOfWork, user: User, grace: timedelta) -> DeletionState:
    if user.deletion_scheduled_for is not None:
        raise conflict(
            "DELETION_ALREADY_SCHEDULED", "Your account is already scheduled for deletion."
        )
    now = uow.clock.now()
    changes = UserChanges(deletion_requested_at=now, deletion_scheduled_for=now + grace)
    updated = await store.update_user(uow, user.id, changes)
    _announce(uow, updated, "identity.account.deletion_scheduled", True)
    return state_of(updated)


async def cancel(uow: UnitOfWork, user: User) -> DeletionState:
    if user.deletion_scheduled_for is None:
        raise conflict("NO_DELETION_SCHEDULED", "Your account is not scheduled for deletion.")
    changes = UserChanges(deletion_requested_at=None, deletion_scheduled_for=None)
    updated = await store.update_user(uow, user.id, changes)
    _announce(uow, updated, "identity.account.deletion_cancelled", False)
    return state_of(updated)


async def carry_out_due(uow: UnitOfWork) -> int:
    """Erases what is due; safe with several replicas. Returns how many deletions were done."""
    due = await store.claim_due_deletions(uow, uow.clock.now())
    for user in due:
        if scope_of(user) == "workspace":
            await store.erase_tenant(uow, user.tenant_id)
            uow.emit(
                "identity.tenant.erased",
                events_pb2.TenantErased(tenant_id=user.tenant_id),
                tenant_id=user.tenant_id,
            )
            uow.emit(
                "identity.access.changed",
                events_pb2.AccessChanged(tenant_id=user.tenant_id),
                tenant_id=user.tenant_id,
            )
        else:
            await store.erase_user(uow, user.tenant_id, user.id)
            uow.emit(
                "identity.user.erased",
                events_pb2.UserErased(user_id=user.id, tenant_id=user.tenant_id),
                tenant_id=user.tenant_id,
            )
            uow.emit(
                "identity.access.changed",
                events_pb2.AccessChanged(tenant_id=user.tenant_id, user_id=user.id),
                tenant_id=user.tenant_id,
            )
    return len(due)
