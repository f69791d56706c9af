"""Shared fixtures of the notifications tests: one private stack (identity, inbox, notifications
and a gateway) started with fast retry schedules, local receivers allowed, and the fake email
provider; helpers to publish inbox's events on its JetStream as inbox does."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import nats
import pytest
from google.protobuf.message import Message

from plixa.inbox.v1 import events_pb2, inbox_pb2
from scripts.mesh import Stack
from services.kit.messaging import ensure_stream
from tests.conftest import ADMIN_URL, TEST_ENV, announce_plan, bearer, register, wait_for_status
from tests.fakes.email_provider import EmailProvider
from tests.fakes.push_service import PushService

T = TypeVar("T")
RETRY_SCHEDULE = "0.3,0.3,0.3,0.3"  # four retries after the first try, quickly


@dataclass
class Notifications:
    stack: Stack
    url: str
    email: EmailProvider
    push: PushService

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20)


_started: list[Notifications] = []


def stop_notifications() -> None:
    """Stops the shared stack once the notifications modules are done (tests/conftest.py), so
    its connections are free for the stacks that follow; a later use starts another."""
    while _started:
        notif = _started.pop()
        notif.stack.stop()
        notif.email.stop()
        notif.push.stop()


@pytest.fixture(scope="session", name="notif")
def notif_fixture(request: pytest.FixtureRequest) -> Notifications:
    """One stack for every notifications test module of the session. Each module imports this
    fixture, and pytest would give each import its own session instance (a stack per module):
    the stack is kept here instead and stopped once, when the session ends."""
    if _started:
        return _started[0]
    email = EmailProvider().start()
    push = PushService().start()
    env = {
        **TEST_ENV,
        "PLIXA_WEBHOOK_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
        "PLIXA_WEBHOOK_RETRY_SCHEDULE": RETRY_SCHEDULE,
        "PLIXA_WEBHOOK_POLL_SECONDS": "0.05",
        "PLIXA_WEBHOOK_TIMEOUT_SECONDS": "2",
        "PLIXA_WEBHOOK_LEASE_SECONDS": "5",  # a killed process's claims come back quickly
        "PLIXA_EMAIL_API_URL": email.url,
        "PLIXA_SSE_HEARTBEAT_SECONDS": "0.5",
        "PLIXA_SSE_WRITE_TIMEOUT_SECONDS": "1",
        "PLIXA_DIGEST_HOUR_UTC": "0",  # today's run is always due
        "PLIXA_DIGEST_CHECK_SECONDS": "0.3",
    }
    # inbox too: the end-to-end test sends a WhatsApp message through it (tests/fakes/evolution.py).
    stack = Stack.for_tests(
        ADMIN_URL, services=("identity", "inbox", "notifications"), extra_env=env
    )

    request.config.add_cleanup(stop_notifications)
    stack.start()
    url = stack.start_gateway()
    _started.append(Notifications(stack, url, email, push))
    return _started[0]


@pytest.fixture(name="api")
def api_fixture(notif: Notifications) -> Iterator[httpx.Client]:
    with notif.client() as client:
        yield client


@dataclass
class Workspace:
    token: str
    tenant_id: int
    user_id: int
    email: str


def workspace(api: httpx.Client, notif: Notifications, plan: str = "professional") -> Workspace:
    """A registered workspace on `plan`, once its gateway sees the plan's features."""
    data = register(api)
    ws = Workspace(data["token"], data["tenant"]["id"], data["user"]["id"], data["user"]["email"])
    announce_plan(notif.stack, ws.tenant_id, plan)
    if plan != "starter":
        found = wait_for_status(api, "/v1/webhook-endpoints", ws.token, 200, timeout=15)
        assert found.status_code == 200, found.text
    return ws


def publish(stack: Stack, subject: str, message: Message, event_id: str | None = None) -> str:
    """Publishes one of inbox's (or another service's) events as its outbox relay does; returns
    the event id."""
    event_id = event_id or str(uuid.uuid4())

    async def send() -> None:
        client = await nats.connect(stack.nats_url)
        try:
            js = client.jetstream()
            await ensure_stream(js, subject.split(".", 1)[0])
            await js.publish(
                subject,
                message.SerializeToString(),
                headers={"Nats-Msg-Id": event_id, "Plixa-Event-Id": event_id},
            )
        finally:
            await client.close()

    asyncio.run(send())
    return event_id


_ids = iter(range(1_000_000, 10**9))


def inbound(
    tenant_id: int, text: str = "Olá, vocês abrem amanhã?", conversation_id: int = 0
) -> events_pb2.MessageEvent:
    conversation_id = conversation_id or next(_ids)
    message = inbox_pb2.Message(
        id=next(_ids),
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        direction="inbound",
        type="text",
        body=text,
        sender_kind="customer",
        status="received",
        whatsapp_message_id=f"WAMID.{uuid.uuid4().hex}",
    )
    message.sent_at.GetCurrentTime()
    message.created_at.GetCurrentTime()
    message.updated_at.GetCurrentTime()
    return events_pb2.MessageEvent(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        contact_phone="5511987654321",
        contact_name="Maria",
        message=message,
    )


def conversation_changed(
    tenant_id: int, conversation_id: int, assigned_user_id: int | None = None
) -> events_pb2.ConversationChanged:
    conversation = inbox_pb2.Conversation(
        id=conversation_id,
        tenant_id=tenant_id,
        contact_phone="5511987654321",
        status="open",
        handler="human",
    )
    if assigned_user_id is not None:
        conversation.assigned_user_id = assigned_user_id
    return events_pb2.ConversationChanged(
        tenant_id=tenant_id,
        conversation=conversation,
        changed=["assigned_user_id"],
        reason="member",
    )


def create_endpoint(
    api: httpx.Client, token: str, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = api.post(
        "/v1/webhook-endpoints",
        headers=bearer(token),
        json={"url": url, "events": events or ["message.inbound"]},
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def deliveries(api: httpx.Client, token: str, endpoint_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=bearer(token))
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


# ── how a customer verifies a delivery ───────────────────────────────────────────────────────


def verify_plixa(secret: str, body: bytes, header: str) -> bool:
    """The stdlib-only check a customer writes (the README's recipe)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v.strip()) for v in header.split(","))


def verify_standard(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks algorithm (standardwebhooks.com), written out."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    return any(
        hmac.compare_digest(expected, part.partition(",")[2])
        for part in headers["webhook-signature"].split(" ")
        if part.startswith("v1,")
    )
