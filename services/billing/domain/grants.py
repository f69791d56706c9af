"""Recomputes a workspace's entitlements after any change and announces a different answer
through the outbox (billing.entitlements.changed), which identity replicates into the principal."""

from __future__ import annotations

from datetime import timedelta

from plixa.billing.v1 import events_pb2
from services.billing.domain import entitlements
from services.billing.domain.entitlements import Entitlements, LicenseState
from services.billing.store import entitlements as entitlement_store
from services.billing.store import licenses as license_store
from services.billing.store import subscriptions as subscription_store
from services.kit.db import UnitOfWork

SUBJECT = "billing.entitlements.changed"


async def current(uow: UnitOfWork, tenant_id: int, grace: timedelta) -> Entitlements:
    """The workspace's entitlements now, from what billing stores."""
    subscriptions = await subscription_store.of_tenant(uow, tenant_id)
    license = await license_store.latest(uow, tenant_id)
    license_state = (
        LicenseState(license.plan, license.expires_at, license.revoked_at) if license else None
    )
    return entitlements.compute(subscriptions, license_state, now=uow.clock.now(), grace=grace)


async def refresh(uow: UnitOfWork, tenant_id: int, grace: timedelta) -> Entitlements:
    """Call with the workspace locked (subscription_store.lock_tenant). Emits the event only
    when what the workspace may use changed; a workspace never announced runs on the default."""
    now_value = await current(uow, tenant_id, grace)
    stored = await entitlement_store.get(uow, tenant_id)
    if stored is None and now_value.same_grant(entitlements.DEFAULT) and not now_value.review_at:
        return now_value
    if now_value.same_grant(stored):
        if stored is not None and stored.review_at != now_value.review_at:
            await entitlement_store.set_review(uow, tenant_id, now_value.review_at)
        return now_value
    changed_at = uow.clock.now()
    await entitlement_store.put(uow, tenant_id, now_value, changed_at)
    event = events_pb2.EntitlementsChanged(
        tenant_id=tenant_id,
        plan=now_value.plan,
        status=now_value.status,
        features=list(now_value.features),
        limits=now_value.limits,
    )
    event.changed_at.FromDatetime(changed_at)
    uow.emit(SUBJECT, event, tenant_id=tenant_id)
    return now_value
