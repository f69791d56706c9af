"""Consumers of every other service's `ImpersonatedAction` events: what a staff member changed
while acting as a workspace member lands in the audit log (services/kit/staff_audit.py)."""

from __future__ import annotations

from datetime import UTC

from nats.aio.msg import Msg

from plixa.common.v1.audit_pb2 import ImpersonatedAction
from services.backoffice.domain import audit
from services.kit.config import SERVICES
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork
from services.kit.staff_audit import SUBJECT

# Every service a member route lives in; the backoffice records its own actions directly.
SOURCES = tuple(service for service in SERVICES if service != "backoffice")


async def record_impersonated_action(uow: UnitOfWork, msg: Msg) -> None:
    action = ImpersonatedAction.FromString(msg.data)
    await audit.record_impersonated_action(uow, action, action.at.ToDatetime(UTC))


SUBSCRIPTIONS = [
    Subscription(
        durable=f"backoffice-audit-{source}",
        subject=f"{source}.{SUBJECT}",
        handler=record_impersonated_action,
    )
    for source in SOURCES
]
