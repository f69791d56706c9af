"""Scheduling's appointment events become customer webhooks (appointment.created, .updated,
.cancelled), one delivery per subscribed active endpoint, like inbox's (events/inbox.py).

proto/plixa/scheduling/v1/events.proto is scheduling's file, taken as it is from its branch."""

from __future__ import annotations

from nats.aio.msg import Msg

from plixa.scheduling.v1 import events_pb2
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork
from services.notifications.domain.payloads import event_body, event_id_of, to_json
from services.notifications.store import webhooks as webhook_store

TYPES = {
    "scheduling.appointment.created": ("appointment.created", events_pb2.AppointmentCreated),
    "scheduling.appointment.updated": ("appointment.updated", events_pb2.AppointmentUpdated),
    "scheduling.appointment.cancelled": ("appointment.cancelled", events_pb2.AppointmentCancelled),
}


async def handle(uow: UnitOfWork, msg: Msg) -> None:
    known = TYPES.get(msg.subject)
    if known is None:
        return
    event_type, message_class = known
    event = message_class.FromString(msg.data)
    tenant_id = event.appointment.tenant_id
    if not tenant_id:
        return
    endpoint_ids = await webhook_store.subscribed(uow.conn, tenant_id, event_type)
    if not endpoint_ids:
        return
    now = uow.clock.now()
    event_id = event_id_of((msg.headers or {}).get("Nats-Msg-Id", ""))
    data = to_json(event)
    data["appointment"].pop("tenant_id", None)
    body = event_body(event_id, event_type, now, tenant_id, data)
    await webhook_store.add_deliveries(
        uow.conn,
        webhook_store.pending_deliveries(tenant_id, endpoint_ids, event_id, event_type, body, now),
    )


SUBSCRIPTIONS = [
    Subscription("notifications-scheduling", "scheduling.appointment.*", handle, batched=True)
]
