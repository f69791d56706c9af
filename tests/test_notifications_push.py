"""Web push through the fake push service, which decrypts what it gets as a browser would."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from plixa.notifications.v1 import internal_pb2
from services.kit.client import ServiceClient
from services.kit.config import internal_secret
from services.kit.principal import service_principal
from services.notifications.settings import DEV_VAPID_PUBLIC_KEY
from tests.conftest import bearer, error_fields, sql
from tests.test_notifications_support import (  # noqa: F401  (fixtures)
    Notifications,
    Workspace,
    api_fixture,
    conversation_changed,
    inbound,
    notif_fixture,
    publish,
    workspace,
)
from tests.test_staff import enrol, new_staff
from tests.test_team import join
from tests.waiting import wait_until


def available(
    api: httpx.Client, notif: Notifications, ws: Workspace, user_id: int, token: str
) -> None:
    beat = api.post("/v1/me/availability/heartbeat", headers=bearer(token))
    assert beat.status_code in (200, 204), beat.text
    query = "SELECT 1 FROM notifications.members WHERE user_id = $1 AND status = 'available'"
    wait_until(lambda: sql(notif.stack, query, user_id), what="the member available")


def test_members_get_pushes_for_new_messages_and_assignments(
    api: httpx.Client, notif: Notifications
) -> None:
    key = api.get("/v1/push/vapid-public-key")
    assert key.status_code == 200 and key.json()["data"]["public_key"] == DEV_VAPID_PUBLIC_KEY
    ws = workspace(api, notif, plan="starter")
    browser = notif.push.subscribe()
    created = api.post("/v1/push/subscriptions", headers=bearer(ws.token), json=browser)
    assert created.status_code == 201, created.text
    again = api.post(
        "/v1/push/subscriptions",
        headers=bearer(ws.token),
        json={**browser, "content_encoding": "aes128gcm"},
    )
    assert again.json()["data"]["id"] == created.json()["data"]["id"]  # upserted
    available(api, notif, ws, ws.user_id, ws.token)

    publish(
        notif.stack,
        "inbox.message.inbound",
        inbound(ws.tenant_id, text="Posso remarcar?", conversation_id=77),
    )
    [push] = wait_until(lambda: notif.push.received(browser["endpoint"]), what="the push")
    assert push == {
        "title": "Maria",
        "body": "Posso remarcar?",
        "url": "/conversations/77",
        "tag": "c77",
    }
    publish(
        notif.stack,
        "inbox.conversation.updated",
        conversation_changed(ws.tenant_id, 78, ws.user_id),
    )

    def two_pushes() -> list[dict[str, Any]] | None:
        found = notif.push.received(browser["endpoint"])
        return found if len(found) == 2 else None

    pushes = wait_until(two_pushes, what="the second push")
    assert (
        pushes[1]["title"] == "Conversation assigned to you"
        and pushes[1]["url"] == "/conversations/78"
    )
    assert notif.push.errors == []

    # An unavailable member gets nothing; an unsubscribed browser gets nothing.
    agent = join(api, ws.token)
    agent_browser = notif.push.subscribe()
    assert (
        api.post(
            "/v1/push/subscriptions", headers=bearer(agent["token"]), json=agent_browser
        ).status_code
        == 201
    )
    gone = api.request(
        "DELETE",
        "/v1/push/subscriptions",
        headers=bearer(ws.token),
        json={"endpoint": browser["endpoint"]},
    )
    assert gone.status_code == 204
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    time.sleep(1.0)
    assert len(notif.push.received(browser["endpoint"])) == 2
    assert notif.push.received(agent_browser["endpoint"]) == []


def test_a_gone_subscription_is_deleted(api: httpx.Client, notif: Notifications) -> None:
    ws = workspace(api, notif, plan="starter")
    browser = notif.push.subscribe()
    assert (
        api.post("/v1/push/subscriptions", headers=bearer(ws.token), json=browser).status_code
        == 201
    )
    available(api, notif, ws, ws.user_id, ws.token)
    notif.push.mark_gone(browser["endpoint"])
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    query = "SELECT 1 FROM notifications.push_subscriptions WHERE endpoint = $1"
    wait_until(
        lambda: not sql(notif.stack, query, browser["endpoint"]), what="the subscription deleted"
    )


def test_subscriptions_are_validated(api: httpx.Client, notif: Notifications) -> None:
    ws = workspace(api, notif, plan="starter")
    browser = notif.push.subscribe()
    for body, field in [
        ({**browser, "endpoint": "http://10.0.0.1/push/x"}, "endpoint"),
        ({**browser, "endpoint": ""}, "endpoint"),
        ({**browser, "keys": {"p256dh": "short", "auth": browser["keys"]["auth"]}}, "keys.p256dh"),
        ({**browser, "keys": {"p256dh": browser["keys"]["p256dh"], "auth": "!!"}}, "keys.auth"),
        ({**browser, "content_encoding": "gzip"}, "content_encoding"),
    ]:
        refused = api.post("/v1/push/subscriptions", headers=bearer(ws.token), json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert field in error_fields(refused), refused.text
    assert api.post("/v1/push/subscriptions", json=browser).status_code == 401
    assert (
        api.post("/v1/admin/push/subscriptions", headers=bearer(ws.token), json=browser).status_code
        == 403
    )


def test_staff_and_internal_pushes(api: httpx.Client, notif: Notifications) -> None:
    staff = enrol(api, new_staff(notif.stack))
    browser = notif.push.subscribe()
    created = api.post("/v1/admin/push/subscriptions", headers=bearer(staff.token), json=browser)
    assert created.status_code == 201, created.text
    ws = workspace(api, notif, plan="starter")
    member_browser = notif.push.subscribe()
    assert (
        api.post(
            "/v1/push/subscriptions", headers=bearer(ws.token), json=member_browser
        ).status_code
        == 201
    )

    async def call() -> tuple[int, int]:
        client = ServiceClient(
            internal_secret(), lambda _: f"127.0.0.1:{notif.stack.ports['notifications']}"
        )
        me = service_principal("backoffice")
        staff_sent = await client.call(
            "notifications",
            "/plixa.notifications.v1.NotificationsInternal/PushToStaff",
            internal_pb2.PushToStaffRequest(
                title="New ticket", body="#12 Cannot connect", url="/admin/tickets/12"
            ),
            internal_pb2.PushResult,
            principal=me,
        )
        members_sent = await client.call(
            "notifications",
            "/plixa.notifications.v1.NotificationsInternal/PushToMembers",
            internal_pb2.PushToMembersRequest(
                tenant_id=ws.tenant_id, title="Hi", body="Staff replied", url="/support"
            ),
            internal_pb2.PushResult,
            principal=me,
        )
        await client.close()
        return staff_sent.sent, members_sent.sent

    staff_sent, members_sent = asyncio.run(call())
    assert staff_sent >= 1 and members_sent == 1
    [got] = wait_until(lambda: notif.push.received(browser["endpoint"]))
    assert got["title"] == "New ticket" and got["url"] == "/admin/tickets/12"
    [member_got] = wait_until(lambda: notif.push.received(member_browser["endpoint"]))
    assert member_got["body"] == "Staff replied"
    off = api.request(
        "DELETE",
        "/v1/admin/push/subscriptions",
        headers=bearer(staff.token),
        json={"endpoint": browser["endpoint"]},
    )
    assert off.status_code == 204
