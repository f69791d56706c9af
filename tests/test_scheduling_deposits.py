"""Deposits end to end: a service with a deposit needs plan booking_deposits (professional,
subscribed through billing and its Stripe fake); its bookings start with the deposit pending;
payment-link asks billing for a deposit checkout once the workspace's Stripe Connect account is
onboarded (the same link on a retry); the fake completes the checkout and delivers the signed
webhook; billing announces billing.deposit.paid and scheduling marks the deposit paid, once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import nats
import pytest

from plixa.billing.v1.events_pb2 import DepositPaid
from plixa.scheduling.v1.events_pb2 import AppointmentUpdated
from tests.billing_support import deliver, fake, subscribe, wait_until
from tests.conftest import errors_of, sql
from tests.scheduling_support import SchedulingWorld, create_service, owner_with_provider, world


@pytest.fixture(scope="module")
def sw() -> SchedulingWorld:
    return world()


@pytest.fixture
def api(sw: SchedulingWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sw.url, timeout=30) as client:
        yield client


def republish(sw: SchedulingWorld, payload: bytes) -> str:
    """Billing's event delivered again under a new message id (past JetStream's dedupe window):
    only scheduling's own idempotence stands between it and a second change. Returns the id."""
    event_id = uuid.uuid4().hex

    async def publish() -> None:
        client = await nats.connect(sw.stack.nats_url)
        try:
            await client.jetstream().publish(
                "billing.deposit.paid", payload, headers={"Nats-Msg-Id": event_id}
            )
        finally:
            await client.close()

    asyncio.run(publish())
    return event_id


def updates(sw: SchedulingWorld, tenant_id: int) -> list[Any]:
    return sql(
        sw.stack,
        "SELECT payload FROM scheduling.outbox WHERE tenant_id = $1"
        " AND subject = 'scheduling.appointment.updated' ORDER BY seq",
        tenant_id,
    )


def onboard(api: httpx.Client, sw: SchedulingWorld, headers: dict[str, str]) -> str:
    """The workspace's Stripe Express account, onboarded through billing (account.updated)."""
    connected = api.post("/v1/payments/connect", headers=headers)
    assert connected.status_code == 200, connected.text
    account_id = str(connected.json()["data"]["account_id"])
    fake(sw.stack).complete_onboarding(account_id)
    wait_until(
        lambda: api.post("/v1/payments/dashboard-link", headers=headers).status_code == 200,
        "onboarding applied",
    )
    return account_id


def test_deposit_paid_end_to_end(api: httpx.Client, sw: SchedulingWorld) -> None:
    owner = owner_with_provider(api)
    headers = owner["headers"]
    tenant_id = owner["tenant"]["id"]
    no_deposit = create_service(api, owner)
    plain = api.post(
        "/v1/scheduling/appointments",
        headers=headers,
        json={"service_id": no_deposit["id"], "start": "2027-06-01T09:00:00"},
    ).json()["data"]
    refused = api.post(f"/v1/scheduling/appointments/{plain['id']}/payment-link", headers=headers)
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "PLAN_FEATURE_REQUIRED"

    subscribe(sw.stack, api, owner["token"], "professional")  # checkout completed in the fake

    def deposit_service() -> httpx.Response | None:  # the gateway learns the plan from identity
        response = api.post(
            "/v1/scheduling/services",
            headers=headers,
            json={
                "name": "Color",
                "duration_minutes": 60,
                "deposit_cents": 2000,
                "provider_ids": [owner["user_id"]],
            },
        )
        return response if response.status_code == 201 else None

    service = wait_until(deposit_service, "a deposit service on professional").json()["data"]
    booked = api.post(
        "/v1/scheduling/appointments",
        headers=headers,
        json={"service_id": service["id"], "start": "2027-06-01T11:00:00"},
    ).json()["data"]
    assert (booked["deposit_cents"], booked["deposit_status"]) == (2000, "pending")
    assert booked.get("payment_url") is None
    link_path = f"/v1/scheduling/appointments/{booked['id']}/payment-link"

    none = api.post(f"/v1/scheduling/appointments/{plain['id']}/payment-link", headers=headers)
    assert none.status_code == 409 and errors_of(none)[0]["code"] == "NO_DEPOSIT"
    # billing's own answer before the workspace connected Stripe: clear, never a 500
    unconnected = api.post(link_path, headers=headers)
    assert unconnected.status_code == 409, unconnected.text
    assert errors_of(unconnected)[0]["code"] == "PAYMENTS_NOT_CONNECTED"

    account_id = onboard(api, sw, headers)
    with ThreadPoolExecutor(6) as pool:  # a double click, or several: one checkout
        links = list(pool.map(lambda _: api.post(link_path, headers=headers), range(6)))
    assert {link.status_code for link in links} == {200}, [link.text for link in links]
    assert len({link.json()["data"]["payment_url"] for link in links}) == 1
    data = links[0].json()["data"]
    url = data["payment_url"]
    assert url.startswith(fake(sw.stack).url + "/c/pay/cs_test")
    assert (data["id"], data["deposit_status"]) == (booked["id"], "pending")
    again = api.post(link_path, headers=headers)  # a retry: the same open checkout
    assert again.status_code == 200 and again.json()["data"]["payment_url"] == url
    assert (
        api.get(f"/v1/scheduling/appointments/{booked['id']}", headers=headers).json()["data"][
            "payment_url"
        ]
        == url
    )
    checkout_id = url.rsplit("/", 1)[-1]
    sent = [
        r
        for r in fake(sw.stack).requests_to("POST", "/v1/checkout/sessions")
        if r.params.get("metadata", {}).get("appointment_id") == str(booked["id"])
        and r.params.get("metadata", {}).get("tenant_id") == str(tenant_id)
    ]
    # the burst and the retry reached Stripe under one idempotency key: one checkout session
    assert len({r.headers["idempotency-key"] for r in sent}) == 1
    sessions = [
        o
        for o in fake(sw.stack).objects.values()
        if o.get("object") == "checkout.session"
        and o.get("metadata", {}).get("appointment_id") == str(booked["id"])
        and o.get("metadata", {}).get("tenant_id") == str(tenant_id)
    ]
    assert [s["id"] for s in sessions] == [checkout_id]
    stored = sql(
        sw.stack,
        "SELECT checkout_id FROM billing.payments WHERE tenant_id = $1 AND appointment_id = $2",
        tenant_id,
        booked["id"],
    )
    assert [r["checkout_id"] for r in stored] == [checkout_id]
    assert sent[0].params["mode"] == "payment"
    assert sent[0].params["line_items"][0]["price_data"] == {
        "currency": "brl",
        "unit_amount": "2000",
        "product_data": {"name": "Deposit: Color"},
    }
    assert sent[0].params["payment_intent_data"]["transfer_data"] == {"destination": account_id}

    events = fake(sw.stack).complete_checkout(checkout_id)  # paid; the webhook is delivered
    assert fake(sw.stack).deliveries[-1] == (events[0]["id"], 200)

    def paid() -> dict[str, Any] | None:
        got = api.get(f"/v1/scheduling/appointments/{booked['id']}", headers=headers)
        data = got.json()["data"]
        return data if data["deposit_status"] == "paid" else None

    assert wait_until(paid, "the deposit paid")["payment_url"] == url
    [announced] = sql(
        sw.stack,
        "SELECT payload FROM billing.outbox WHERE subject = 'billing.deposit.paid'"
        " AND tenant_id = $1",
        tenant_id,
    )
    event = DepositPaid.FromString(announced["payload"])
    assert (event.appointment_id, event.amount_cents, event.checkout_id) == (
        booked["id"],
        2000,
        checkout_id,
    )

    # Stripe retries the webhook, and billing's event arrives again: nothing changes twice
    assert deliver(api, sw.stack, events[0]).json()["data"]["duplicate"] is True
    again_id = republish(sw, bytes(announced["payload"]))
    after = api.post(link_path, headers=headers)
    assert after.status_code == 409 and errors_of(after)[0]["code"] == "DEPOSIT_PAID"
    wait_until(
        lambda: sql(
            sw.stack,
            "SELECT 1 FROM scheduling.processed_events WHERE event_id = $1",
            again_id,
        ),
        "the second delivery handled",
    )
    changes = [
        AppointmentUpdated.FromString(bytes(u["payload"])).change for u in updates(sw, tenant_id)
    ]
    assert changes == ["deposit_requested", "deposit_paid"]  # the retry and redelivery: nothing

    other = owner_with_provider(api)
    theirs = api.post(link_path, headers=other["headers"])
    assert theirs.status_code in (403, 404)
