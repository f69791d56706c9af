"""End to end with inbox: a WhatsApp message arrives through the Evolution fake (inbox's webhook),
the customer's receiver gets one correctly signed delivery, and the panel's event stream gets the
same event live. Needs inbox's webhook route and its Evolution fake (branch `inbox`): skipped
until they are on this branch."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import announce_plan, bearer, register, wait_for_status
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.test_notifications_events import events, ticket_for
from tests.test_notifications_support import (  # noqa: F401  (fixtures)
    Notifications,
    notif_fixture,
    verify_plixa,
    verify_standard,
)
from tests.waiting import wait_until

evolution = pytest.importorskip("tests.fakes.evolution", reason="inbox's Evolution fake not here")


@pytest.fixture
def full(notif: Notifications) -> tuple[Notifications, Any]:
    fake = getattr(notif.stack, "evolution", None)
    if fake is None:
        pytest.skip("this branch's mesh does not start inbox's Evolution fake")
    return notif, fake


def test_a_whatsapp_message_reaches_the_receiver_signed_and_the_panel_live(
    full: tuple[Notifications, Any],
) -> None:
    notif, fake = full
    receiver = WebhookReceiver().start()
    try:
        with httpx.Client(base_url=notif.url, timeout=20) as api:
            owner = register(api)
            token, tenant_id = owner["token"], owner["tenant"]["id"]
            announce_plan(notif.stack, tenant_id, "professional")
            assert wait_for_status(api, "/v1/webhook-endpoints", token, 200).status_code == 200
            endpoint = api.post(
                "/v1/webhook-endpoints",
                headers=bearer(token),
                json={"url": receiver.url, "events": ["message.inbound"]},
            ).json()["data"]
            created = api.post("/v1/phone-instances", json={"name": "Sales"}, headers=bearer(token))
            assert created.status_code == 201, created.text
            instance = created.json()["data"]
            number = "5511" + str(uuid.uuid4().int)[:9]
            assert fake.connect(instance["instance_name"], number).status_code == 200
            ticket = ticket_for(api, token)
            with events(notif, ticket=ticket) as sse:
                customer = "5511" + str(uuid.uuid4().int)[:9]
                sent = fake.inbound_text(instance["instance_name"], customer, "oi, tudo bem?")
                assert sent.status_code == 200, sent.text
                live = sse.next(event="message.inbound", timeout=15)
                assert live.data["data"]["message"]["body"] == "oi, tudo bem?"
            [got] = wait_until(receiver.deliveries, what="the delivery")
            secret = endpoint["secret"]
            assert verify_plixa(secret, got.body, got.headers["x-plixa-signature"])
            assert verify_standard(secret, got.headers, got.body)
            body = got.json()
            assert body["type"] == "message.inbound" and body["tenant_id"] == tenant_id
            assert body["data"]["message"]["body"] == "oi, tudo bem?"
            assert body["data"]["contact_phone"] == customer
    finally:
        receiver.stop()
