"""Support notices against our real notifications service (a process, reached over gRPC by the
real NotificationsClient), its email provider fake and a web push service fake: a new ticket is
pushed to subscribed staff once, a staff reply is emailed to the customer once (with its key),
nothing is marked while notifications is away and everything goes out once it is back, and an
address notifications refuses is marked, not retried forever."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from plixa.common.v1.principal_pb2 import Principal
from plixa.notifications.v1 import push_pb2
from services.backoffice.clients.notifications import NotificationsClient
from services.backoffice.domain import support
from services.backoffice.domain.support_notices import SupportNotices
from services.backoffice.store.support import ticket_messages, tickets
from services.kit.db import Database
from tests.backoffice_notifications import (
    Mesh,
    delivered,
    eventually,
    notifications_mesh,
    queued_at_notifications,
    run,
)

MEMBER = Principal(
    kind=Principal.KIND_USER, user_id=5, tenant_id=9, email="lucia@example.com", abilities=["*"]
)
STAFF = Principal(
    kind=Principal.KIND_STAFF, staff_id=7, email="ana@plixa.app", two_factor_enabled=True
)
PANEL = "https://panel.example"


@pytest.fixture(scope="module")
def mesh() -> Iterator[Mesh]:
    with notifications_mesh() as found:
        yield found


async def subscribe_staff(notifications: NotificationsClient, browser: dict[str, Any]) -> None:
    """A staff member's browser subscribes to pushes (the call the gateway makes for
    POST /v1/admin/push/subscriptions, signed with the staff principal)."""
    await notifications.client.call(
        "notifications",
        "/plixa.notifications.v1.Push/SubscribeStaffPush",
        push_pb2.SubscribePushRequest(
            endpoint=browser["endpoint"], keys=push_pb2.PushKeys(**browser["keys"])
        ),
        push_pb2.PushSubscription,
        principal=STAFF,
    )


async def ticket_with_reply(db: Database, member: Principal = MEMBER) -> tuple[int, int]:
    async with db.unit_of_work(member) as uow:
        ticket = await support.open_ticket(
            uow, subject="Number dropped", body="Help", priority=None
        )
    async with db.unit_of_work(STAFF) as uow:
        reply = await support.staff_replies(uow, ticket.row.id, "Restart it, please.")
    return ticket.row.id, reply.id


async def marked(db: Database, ticket_id: int, message_id: int) -> tuple[bool, bool]:
    """Whether staff were told of the ticket, and the customer of the reply."""
    async with db.engine.connect() as conn:
        staff_told = await conn.scalar(
            select(tickets.c.staff_notified_at.is_not(None)).where(tickets.c.id == ticket_id)
        )
        customer_told = await conn.scalar(
            select(ticket_messages.c.customer_notified_at.is_not(None)).where(
                ticket_messages.c.id == message_id
            )
        )
    return bool(staff_told), bool(customer_told)


async def pushes_pending(db: Database) -> int:
    """Pushes notifications has queued and not yet sent."""
    async with db.engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM notifications.push_queue")) or 0)


def test_a_new_ticket_is_pushed_and_a_staff_reply_emailed_once(mesh: Mesh) -> None:
    async def scenario(db: Database, notifications: NotificationsClient) -> None:
        browser = mesh.push.subscribe()
        await subscribe_staff(notifications, browser)
        notices = SupportNotices(db, notifications, PANEL)
        mesh.stop_notifications()
        try:
            ticket_id, message_id = await ticket_with_reply(db)
            await notices.tick()
            assert await marked(db, ticket_id, message_id) == (False, False)
        finally:
            mesh.start_notifications()

        async def both_told() -> bool:
            await notices.tick()  # as the periodic job does, until notifications answers again
            return await marked(db, ticket_id, message_id) == (True, True)

        await eventually(both_told, "the notices handed over once notifications is back", every=1.0)
        await notices.tick()  # nothing is left to tell

        url = f"{PANEL}/admin/support/tickets/{ticket_id}"

        async def pushed() -> list[dict[str, Any]]:
            if await pushes_pending(db):
                return []
            return [p for p in mesh.push.received(browser["endpoint"]) if p["url"] == url]

        (push,) = await eventually(pushed, "the staff push")
        assert (push["title"], push["body"]) == (
            f"New ticket #{ticket_id} (normal)",
            "Number dropped",
        )
        assert mesh.push.errors == []
        (email,) = await delivered(mesh, db, f"ext:backoffice-ticket-reply-{message_id}", 1)
        assert email["to"] == ["lucia@example.com"]
        assert email["tags"] == [{"name": "template", "value": "staff_reply"}]
        assert email["subject"] == "Re: Number dropped"
        assert email["text"] == "Restart it, please.\n"

    run(mesh, scenario)


def test_a_refused_address_is_marked_not_retried(mesh: Mesh) -> None:
    async def scenario(db: Database, notifications: NotificationsClient) -> None:
        notices = SupportNotices(db, notifications)
        await notices.tick()  # earlier tests' notices are out of the way
        # An address notifications' check refuses (no top-level domain).
        member = Principal()
        member.CopyFrom(MEMBER)
        member.email = "lucia@example"
        ticket_id, message_id = await ticket_with_reply(db, member)
        await notices.tick()
        assert await marked(db, ticket_id, message_id) == (True, True)
        await notices.tick()
        assert await queued_at_notifications(db, f"ext:backoffice-ticket-reply-{message_id}") == {}
        assert [m for m in mesh.email.emails() if m["to"] == ["lucia@example"]] == []

    run(mesh, scenario)
