"""Booking deposits end to end: the workspace's Stripe Express account (created once, even under a
burst), onboarding through account.updated, the dashboard link, a deposit checkout created over
billing's internal RPC, paid through the fake, listed, and announced once
(billing.deposit.paid)."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from plixa.billing.v1 import events_pb2, internal_pb2
from scripts.mesh import Stack
from services.kit.errors import DomainError
from tests.billing_support import call_internal, deliver, fake, owner, subscribe, wait_until
from tests.conftest import bearer, errors_of, sql

DEPOSIT = "/plixa.billing.v1.BillingInternal/CreateDepositCheckout"


def deposit(
    stack: Stack, tenant_id: int, appointment_id: int, amount: int = 5000
) -> internal_pb2.CreateDepositCheckoutResponse:
    request = internal_pb2.CreateDepositCheckoutRequest(
        tenant_id=tenant_id,
        appointment_id=appointment_id,
        amount_cents=amount,
        currency="BRL",
        description="Deposit: haircut",
    )
    return call_internal(stack, DEPOSIT, request, internal_pb2.CreateDepositCheckoutResponse)


def test_connect_onboarding_dashboard_and_a_paid_deposit(api: httpx.Client, stack: Stack) -> None:
    token, tenant_id = owner(api)
    subscribe(stack, api, token, "professional")

    def past_the_plan_gate() -> httpx.Response | None:
        # the gateway hears identity.access.changed a moment after it is sent
        answer = api.post("/v1/payments/dashboard-link", headers=bearer(token))
        return answer if answer.status_code != 403 else None

    not_yet = wait_until(past_the_plan_gate, "the professional plan reaches the gateway")
    assert not_yet.status_code == 409 and errors_of(not_yet)[0]["code"] == "PAYMENTS_NOT_CONNECTED"

    # a burst of connects creates one account
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: api.post("/v1/payments/connect", headers=bearer(token)), range(8))
        )
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    accounts = {a.json()["data"]["account_id"] for a in answers}
    assert len(accounts) == 1
    account_id = accounts.pop()
    first = answers[0].json()["data"]
    assert first["onboarding_complete"] is False and first["charges_enabled"] is False
    assert first["url"].startswith(fake(stack).url + "/setup/e/" + account_id)
    created = [
        r
        for r in fake(stack).requests_to("POST", "/v1/accounts")
        if r.params.get("metadata", {}).get("tenant_id") == str(tenant_id)
    ]
    assert {r.params["type"] for r in created} == {"express"}
    assert (
        sql(stack, "SELECT count(*) FROM billing.connect_accounts WHERE tenant_id = $1", tenant_id)[
            0
        ][0]
        == 1
    )

    incomplete = api.post("/v1/payments/dashboard-link", headers=bearer(token))
    assert incomplete.status_code == 409
    assert errors_of(incomplete)[0]["code"] == "PAYMENTS_ONBOARDING_INCOMPLETE"
    with pytest.raises(DomainError) as refused:
        deposit(stack, tenant_id, 41)
    assert refused.value.code == "PAYMENTS_NOT_CONNECTED"

    onboarded = fake(stack).complete_onboarding(account_id)  # account.updated, a Connect event

    def dashboard_link() -> httpx.Response | None:
        response = api.post("/v1/payments/dashboard-link", headers=bearer(token))
        return response if response.status_code == 200 else None

    link = wait_until(dashboard_link, "dashboard link after onboarding")
    assert link.json()["data"]["url"].startswith(fake(stack).url + "/express/" + account_id)
    # an older account.updated delivered late does not undo the onboarding
    stale = copy.deepcopy(onboarded[0])
    stale["id"] = "evt_stale_" + account_id
    stale["created"] -= 60
    stale["data"]["object"].update(details_submitted=False, charges_enabled=False)
    assert deliver(api, stack, stale).status_code == 200
    assert api.post("/v1/payments/dashboard-link", headers=bearer(token)).status_code == 200
    done = api.post("/v1/payments/connect", headers=bearer(token)).json()["data"]
    assert done == {
        "url": "",
        "account_id": account_id,
        "onboarding_complete": True,
        "charges_enabled": True,
    }

    checkout = deposit(stack, tenant_id, 42)
    assert deposit(stack, tenant_id, 42).checkout_id == checkout.checkout_id  # a retry: the same
    sent = fake(stack).requests_to("POST", "/v1/checkout/sessions")[-1].params
    assert sent["mode"] == "payment"
    assert sent["line_items"][0]["price_data"] == {
        "currency": "brl",
        "unit_amount": "5000",
        "product_data": {"name": "Deposit: haircut"},
    }
    assert sent["payment_intent_data"]["application_fee_amount"] == "250"  # 5 %
    assert sent["payment_intent_data"]["transfer_data"] == {"destination": account_id}

    listed = api.get("/v1/payments", headers=bearer(token)).json()
    assert [(p["appointment_id"], p["status"], p["paid_at"]) for p in listed["data"]] == [
        (42, "pending", None)
    ]
    events = fake(stack).complete_checkout(checkout.checkout_id)
    paid = wait_until(
        lambda: [
            p
            for p in api.get("/v1/payments", headers=bearer(token)).json()["data"]
            if p["status"] == "paid"
        ],
        "the deposit paid",
    )
    assert paid[0]["amount_cents"] == 5000 and paid[0]["currency"] == "brl"
    assert paid[0]["application_fee_cents"] == 250 and paid[0]["paid_at"] is not None
    assert deliver(api, stack, events[0]).json()["data"]["duplicate"] is True
    announced = sql(
        stack,
        "SELECT payload FROM billing.outbox WHERE subject = $1 AND tenant_id = $2",
        "billing.deposit.paid",
        tenant_id,
    )
    assert len(announced) == 1
    event = events_pb2.DepositPaid.FromString(announced[0][0])
    assert (event.appointment_id, event.amount_cents, event.currency, event.payment_id) == (
        42,
        5000,
        "brl",
        paid[0]["id"],
    )
    assert event.checkout_id == checkout.checkout_id

    # an unpaid checkout that expires frees the appointment for a new one
    unpaid = deposit(stack, tenant_id, 43, amount=3000)
    fake(stack).expire_checkout(unpaid.checkout_id)
    wait_until(
        lambda: [
            p
            for p in api.get("/v1/payments", headers=bearer(token)).json()["data"]
            if p["appointment_id"] == 43 and p["status"] == "expired"
        ],
        "the expired deposit",
    )
    retried = deposit(stack, tenant_id, 43, amount=3000)
    assert retried.checkout_id != unpaid.checkout_id and retried.payment_id != unpaid.payment_id

    # another workspace sees none of it
    other, _ = owner(api)
    theirs = api.get("/v1/payments", headers=bearer(other))
    assert theirs.status_code == 200 and theirs.json()["data"] == []
    assert api.post("/v1/payments/connect", headers=bearer(other)).status_code == 403


def test_deposit_input_is_checked(stack: Stack) -> None:
    with pytest.raises(DomainError) as refused:
        deposit(stack, 1, 0, amount=5)
    assert refused.value.code == "VALIDATION_FAILED"
    assert {f.field for f in refused.value.fields} == {"appointment_id", "amount_cents"}


def test_payments_list_pages(api: httpx.Client) -> None:
    token, _ = owner(api)
    response = api.get("/v1/payments?limit=0", headers=bearer(token))
    assert response.status_code == 422
    assert api.get("/v1/payments?cursor=bogus", headers=bearer(token)).status_code == 422
