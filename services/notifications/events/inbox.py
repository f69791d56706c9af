"""Inbox's events feed the customers' webhooks and the panel's live stream.

One durable consumer reads `inbox.>` in order: each event of a webhook type becomes one delivery
row per subscribed active endpoint of its tenant (the dispatcher sends them), and each
conversation or message event becomes a live event (GET /v1/events). Both are written in the
consumer's unit of work, with the event recorded as processed, so a redelivery adds nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from nats.aio.msg import Msg

from plixa.inbox.v1 import events_pb2
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork
from services.notifications.domain import push
from services.notifications.domain.digest import local_day
from services.notifications.domain.payloads import event_body, event_id_of, to_json
from services.notifications.store import digest as digest_store
from services.notifications.store import live as live_store
from services.notifications.store import push as push_store
from services.notifications.store import webhooks as webhook_store

# subject → (event type for webhooks and the live stream, whether webhooks carry it)
TYPES: dict[str, tuple[str, bool]] = {
    "inbox.message.inbound": ("message.inbound", True),
    "inbox.message.outbound": ("message.outbound", True),
    "inbox.message.status_changed": ("message.status_changed", False),
    "inbox.conversation.created": ("conversation.created", True),
    "inbox.conversation.updated": ("conversation.updated", True),
    "inbox.conversation.deleted": ("conversation.deleted", True),
}

COUNTERS = {
    "message.inbound": "inbound",
    "message.outbound": "outbound",
    "conversation.created": "conversations",
}


def decode(subject: str, payload: bytes) -> tuple[int, int | None, Any, int | None, bool]:
    """(tenant_id, conversation_id, data, assignee after the event, is a conversation event)."""
    if subject.startswith("inbox.message."):
        message = events_pb2.MessageEvent.FromString(payload)
        data = to_json(message)
        data.pop("tenant_id", None)
        return message.tenant_id, message.conversation_id, data, None, False
    changed = events_pb2.ConversationChanged.FromString(payload)
    data = to_json(changed)
    data.pop("tenant_id", None)
    conversation = changed.conversation
    assignee = conversation.assigned_user_id if conversation.HasField("assigned_user_id") else None
    return changed.tenant_id, conversation.id, data, assignee, True


@dataclass(frozen=True)
class Event:
    """One inbox event of a known type, decoded."""

    msg: Msg
    type: str
    for_webhooks: bool
    tenant_id: int
    conversation_id: int | None
    data: Any
    assignee: int | None  # after the event (conversation events)
    is_conversation: bool


def decoded(msg: Msg) -> Event | None:
    known = TYPES.get(msg.subject)
    if known is None:
        return None  # contacts, phone numbers: neither webhooks nor the live stream carry them
    event_type, for_webhooks = known
    tenant_id, conversation_id, data, assignee, is_conversation = decode(msg.subject, msg.data)
    if not tenant_id:
        return None
    return Event(
        msg, event_type, for_webhooks, tenant_id, conversation_id, data, assignee, is_conversation
    )


async def handle(uow: UnitOfWork, msg: Msg) -> None:
    await handle_batch(uow, [msg])


async def handle_batch(uow: UnitOfWork, msgs: list[Msg]) -> None:
    """A batch of events, in stream order, written with one statement per table: what each
    event does is decided in order here (later events of the batch see the assignees earlier
    ones set), and the rows are written at the end."""
    events = [event for event in map(decoded, msgs) if event is not None]
    if not events:
        return
    now = uow.clock.now()
    conn = uow.conn

    # Webhooks: one delivery row per (event, subscribed active endpoint), in event order.
    hooked = [e for e in events if e.for_webhooks]
    endpoints = (
        await webhook_store.subscribed_by_tenant(conn, sorted({e.tenant_id for e in hooked}))
        if hooked
        else {}
    )
    delivery_rows: list[dict[str, Any]] = []
    for e in hooked:
        endpoint_ids = [i for i, types in endpoints.get(e.tenant_id, ()) if e.type in types]
        if not endpoint_ids:
            continue
        event_id = event_id_of((e.msg.headers or {}).get("Nats-Msg-Id", ""))
        body = event_body(event_id, e.type, now, e.tenant_id, e.data)
        delivery_rows += webhook_store.pending_deliveries(
            e.tenant_id, endpoint_ids, event_id, e.type, body, now
        )
    await webhook_store.add_deliveries(conn, delivery_rows)

    # The digest's counters, per local day of the workspace.
    counted = [e for e in events if e.type in COUNTERS]
    if counted:
        zones = await digest_store.timezones(conn, sorted({e.tenant_id for e in counted}))
        counts: dict[tuple[int, date], dict[str, int]] = {}
        for e in counted:
            day = local_day(now, zones.get(e.tenant_id, "UTC"))
            added = counts.setdefault((e.tenant_id, day), {})
            added[COUNTERS[e.type]] = added.get(COUNTERS[e.type], 0) + 1
        await digest_store.count_many(conn, counts)

    # The live stream: who may see it when agents are restricted (assignees before and after).
    keys = {(e.tenant_id, e.conversation_id) for e in events if e.conversation_id is not None}
    current = await live_store.assignees_of(conn, keys)
    changed: dict[tuple[int, int], int | None] = {}
    forgotten: set[tuple[int, int]] = set()
    inbound = [e for e in events if e.type == "message.inbound" and e.conversation_id is not None]
    tenants = sorted({e.tenant_id for e in inbound})
    targets = await push_store.available_by_tenant(conn, tenants) if tenants else {}
    restricted = await live_store.restricted_tenants(conn, tenants) if targets else set()
    pushes: list[tuple[int, int, str]] = []
    live_rows: list[dict[str, Any]] = []
    for e in events:
        assignees: list[int | None]
        if e.conversation_id is None:
            assignees = [None]
        else:
            key = (e.tenant_id, e.conversation_id)
            before = current.get(key)
            if not e.is_conversation:
                assignees = [before]
            else:
                if e.type == "conversation.deleted":
                    current.pop(key, None)
                    changed.pop(key, None)
                    forgotten.add(key)
                else:
                    current[key] = changed[key] = e.assignee
                    forgotten.discard(key)
                assignees = [before, e.assignee] if before != e.assignee else [e.assignee]
        # Web push: a new inbound message to who may open it; an assignment to the assignee.
        if e.type == "message.inbound" and e.conversation_id is not None:
            if e.tenant_id in targets:
                message = events_pb2.MessageEvent.FromString(e.msg.data)
                text_of = message.message.body or message.message.caption or "New message"
                sender = (
                    message.contact_name
                    if message.HasField("contact_name")
                    else message.contact_phone
                )
                users, payload = push.inbound_push(
                    targets[e.tenant_id],
                    e.tenant_id in restricted,
                    e.conversation_id,
                    assignees[-1],
                    sender,
                    text_of,
                )
                pushes += [(e.tenant_id, user, payload) for user in users]
        elif (
            e.type == "conversation.updated"
            and e.conversation_id is not None
            and e.assignee is not None
            and "assigned_user_id" in e.data.get("changed", [])
        ):
            conversation = e.data["conversation"]
            contact = conversation.get("contact_name") or conversation["contact_phone"]
            payload = push.assigned_push(e.conversation_id, contact)
            pushes.append((e.tenant_id, e.assignee, payload))
        live_rows.append(
            {
                "tenant_id": e.tenant_id,
                "type": e.type,
                "conversation_id": e.conversation_id,
                "assignees": assignees,
                "data": e.data,
                "created_at": now,
            }
        )
    await live_store.save_assignees(conn, changed, forgotten)
    await push_store.enqueue_many(conn, pushes, now)
    await live_store.add_events(conn, live_rows)


SUBSCRIPTIONS = [
    Subscription(
        "notifications-inbox",
        "inbox.>",
        handle,
        max_deliveries=10,
        batched=True,
        batch_handler=handle_batch,
    )
]
