"""identity.tenant.erased: the workspace's catalogue rows go (custom-field definitions and
values, saved replies). Inbox core's own consumer erases contacts, labels and sectors; this one
has its own durable name, so each is redelivered and recorded on its own."""

from __future__ import annotations

from nats.aio.msg import Msg

from plixa.identity.v1 import events_pb2
from services.inbox.store.catalogue_erasure import erase_tenant
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork


async def erase_catalogue(uow: UnitOfWork, msg: Msg) -> None:
    event = events_pb2.TenantErased.FromString(msg.data)
    if event.tenant_id:
        await erase_tenant(uow, event.tenant_id)


SUBSCRIPTIONS = [
    Subscription(
        durable="inbox-catalogue-tenant-erased",
        subject="identity.tenant.erased",
        handler=erase_catalogue,
    )
]
