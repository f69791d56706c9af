"""The getting-started checklist, derived on the fly from the services that own each step."""

from __future__ import annotations

from dataclasses import dataclass

from services.identity.store import accounts as account_store
from services.identity.store import invitations as invitation_store
from services.identity.store.accounts import TenantChanges
from services.kit.db import UnitOfWork

# (step, owning service), in the order the banner shows them.
STEPS = (
    ("phone_connected", "inbox"),
    ("ai_configured", "ai"),
    ("team_invited", "identity"),
    ("first_reply_sent", "inbox"),
)
REMOTE_SERVICES = tuple(sorted({service for _, service in STEPS if service != "identity"}))


@dataclass(frozen=True)
class Step:
    key: str
    done: bool
    service: str


@dataclass(frozen=True)
class Checklist:
    dismissed: bool
    steps: list[Step]

    @property
    def completed(self) -> int:
        return sum(step.done for step in self.steps)


async def own_progress(uow: UnitOfWork) -> dict[str, bool]:
    members = await account_store.count_members(uow, uow.scope.tenant_id)
    return {"team_invited": members > 1 or await invitation_store.any_sent(uow)}


async def checklist(uow: UnitOfWork, remote: dict[str, dict[str, bool]]) -> Checklist:
    answers = {"identity": await own_progress(uow), **remote}
    tenant = await account_store.get_tenant(uow, uow.scope.tenant_id)
    steps = [
        Step(key, bool(answers.get(service, {}).get(key, False)), service) for key, service in STEPS
    ]
    return Checklist(dismissed=bool(tenant and tenant.onboarding_dismissed_at), steps=steps)


async def dismiss(uow: UnitOfWork) -> None:
    tenant = await account_store.get_tenant(uow, uow.scope.tenant_id)
    if tenant is not None and tenant.onboarding_dismissed_at is None:
        await account_store.update_tenant(
            uow, TenantChanges(onboarding_dismissed_at=uow.clock.now())
        )
