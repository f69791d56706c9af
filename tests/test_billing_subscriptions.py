"""Billing end to end: plans, checkout with the trial, Stripe's signed webhooks through the
gateway, entitlements reaching identity's principal, the portal, grace, and attacker cases."""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from scripts.mesh import Stack
from tests.billing_support import (
    checkout,
    deliver,
    fake,
    owner,
    subscribe,
    subscription,
    wait_for_subscription,
    wait_until,
)
from tests.conftest import bearer, errors_of, sql
from tests.test_inbox_messaging import pair, unique_phone
from tests.test_team import join

PROFESSIONAL_ONLY = "/v1/payments/connect"  # plan feature booking_deposits


def test_the_plan_catalogue_is_public(api: httpx.Client) -> None:
    response = api.get("/v1/billing/plans")
    assert response.status_code == 200, response.text
    plans = {p["key"]: p for p in response.json()["data"]}
    assert list(plans) == ["starter", "professional", "business"]
    assert plans["starter"]["limits"] == {
        "seats": 3,
        "whatsapp_numbers": 1,
        "ai_tokens_per_month": 0,
    }
    assert plans["starter"]["intervals"] == [] and plans["starter"]["trial_days"] == 0
    assert "booking_deposits" in plans["professional"]["features"]
    assert "api_access" not in plans["professional"]["features"]
    assert "api_access" in plans["business"]["features"]
    assert plans["business"]["limits"]["seats"] == 50
    assert plans["professional"]["intervals"] == ["month", "year"]


def test_checkout_trial_webhook_and_principal(api: httpx.Client, stack: Stack) -> None:
    token, tenant_id = owner(api)
    before = subscription(api, token)
    assert before["plan"] == "starter" and before["status"] == "none"
    assert before["interval"] is None and before["trial_ends_at"] is None
    refused = api.post(PROFESSIONAL_ONLY, headers=bearer(token))
    assert refused.status_code == 403
    assert errors_of(refused)[0]["code"] == "PLAN_FEATURE_REQUIRED"

    response = api.post(
        "/v1/billing/checkout",
        json={"plan": "professional", "interval": "year"},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["plan"] == "professional" and data["interval"] == "year"
    assert data["url"].startswith(fake(stack).url + "/c/pay/cs_test_")
    # What reached Stripe, in its wire format: a customer, then a subscription checkout with
    # the workspace as client_reference_id, the configured yearly price and a 7-day trial.
    sent = fake(stack).requests_to("POST", "/v1/checkout/sessions")[-1]
    assert sent.headers["authorization"].startswith("Bearer sk_")
    assert sent.headers.get("idempotency-key") and sent.headers.get("stripe-version")
    assert sent.params["mode"] == "subscription"
    assert sent.params["client_reference_id"] == str(tenant_id)
    assert sent.params["line_items"] == [{"price": "price_professional_year", "quantity": "1"}]
    assert sent.params["subscription_data"]["trial_period_days"] == "7"
    assert sent.params["subscription_data"]["metadata"]["tenant_id"] == str(tenant_id)
    customer = sent.params["customer"]
    assert (
        sql(
            stack,
            "SELECT stripe_customer_id FROM billing.customers WHERE tenant_id = $1",
            tenant_id,
        )[0][0]
        == customer
    )

    session_id = data["url"].rsplit("/", 1)[-1]
    events = fake(stack).complete_checkout(session_id)
    assert [e["type"] for e in events] == [
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    ]
    assert fake(stack).deliveries[-3:] == [(e["id"], 200) for e in events]
    now = wait_for_subscription(api, token, "trialing", status="trialing")
    assert now["plan"] == "professional" and now["interval"] == "year"
    assert now["trial_ends_at"] is not None and now["current_period_end"] is not None
    assert "booking_deposits" in now["features"] and now["limits"]["seats"] == 10
    # identity replicated the event into the principal: the professional-only route opens
    opened = wait_until(
        lambda: api.post(PROFESSIONAL_ONLY, headers=bearer(token)).status_code == 200,
        "Connect allowed after the plan change",
    )
    assert opened
    replica = sql(
        stack, "SELECT plan, status FROM identity.entitlements WHERE tenant_id = $1", tenant_id
    )
    assert [tuple(r) for r in replica] == [("professional", "trialing")]

    # a live subscription is changed in the portal, not bought twice
    again = api.post("/v1/billing/checkout", json={"plan": "business"}, headers=bearer(token))
    assert again.status_code == 409, again.text
    assert errors_of(again)[0]["code"] == "SUBSCRIPTION_EXISTS"
    portal = api.post("/v1/billing/portal", headers=bearer(token))
    assert portal.status_code == 200, portal.text
    assert portal.json()["data"]["url"].startswith(fake(stack).url + "/p/session/")
    assert (
        fake(stack).requests_to("POST", "/v1/billing_portal/sessions")[-1].params["customer"]
        == customer
    )


def test_the_customer_is_created_once_and_the_trial_is_for_the_first_subscription(
    api: httpx.Client, stack: Stack
) -> None:
    token, tenant_id = owner(api)
    checkout(api, token)
    checkout(api, token, "business", "year")
    customers = {
        r.params["customer"]
        for r in fake(stack).requests_to("POST", "/v1/checkout/sessions")
        if r.params.get("client_reference_id") == str(tenant_id)
    }
    assert len(customers) == 1
    subscription_id = subscribe(stack, api, token)
    fake(stack).subscription_action(subscription_id, "cancel")
    wait_for_subscription(api, token, "canceled", plan="starter", status="canceled")
    checkout(api, token, "business", "month")  # the second subscription: no trial
    last = fake(stack).requests_to("POST", "/v1/checkout/sessions")[-1]
    assert last.params["customer"] in customers
    assert "trial_period_days" not in last.params["subscription_data"]


def test_a_burst_of_checkouts_makes_one_customer(api: httpx.Client, stack: Stack) -> None:
    token, tenant_id = owner(api)
    with ThreadPoolExecutor(6) as pool:
        urls = list(pool.map(lambda _: checkout(api, token), range(6)))
    assert len(set(urls)) == 6  # six sessions, one customer
    rows = sql(
        stack, "SELECT stripe_customer_id FROM billing.customers WHERE tenant_id = $1", tenant_id
    )
    assert len(rows) == 1
    made = [
        o
        for o in fake(stack).objects.values()
        if o["object"] == "customer" and o["metadata"].get("tenant_id") == str(tenant_id)
    ]
    assert [c["id"] for c in made] == [rows[0][0]]


def test_portal_without_a_customer_is_a_clear_conflict(api: httpx.Client) -> None:
    token, _ = owner(api)
    response = api.post("/v1/billing/portal", headers=bearer(token))
    assert response.status_code == 409
    assert errors_of(response)[0]["code"] == "NO_BILLING_CUSTOMER"


def test_checkout_input_is_validated(api: httpx.Client) -> None:
    token, _ = owner(api)
    for body, field in (
        ({"plan": "gold"}, "plan"),
        ({}, "plan"),
        ({"plan": "starter"}, "plan"),
        ({"plan": "business", "interval": "week"}, "interval"),
        ({"plan": "business", "extra": 1}, "extra"),
    ):
        response = api.post("/v1/billing/checkout", json=body, headers=bearer(token))
        assert response.status_code == 422, (body, response.text)
        assert field in {e.get("field") for e in errors_of(response)}, (body, response.text)
    default = api.post("/v1/billing/checkout", json={"plan": "business"}, headers=bearer(token))
    assert default.status_code == 200 and default.json()["data"]["interval"] == "month"


def test_agents_and_other_workspaces(api: httpx.Client, stack: Stack) -> None:
    token, _ = owner(api)
    subscribe(stack, api, token, "business")
    agent = join(api, token)["token"]
    for method, path in (
        ("GET", "/v1/billing/subscription"),
        ("POST", "/v1/billing/checkout"),
        ("POST", "/v1/billing/portal"),
        ("POST", "/v1/payments/connect"),
        ("POST", "/v1/payments/dashboard-link"),
        ("GET", "/v1/payments"),
    ):
        response = api.request(
            method,
            path,
            json={"plan": "business"} if "checkout" in path else None,
            headers=bearer(agent),
        )
        assert response.status_code == 403, (path, response.text)
        assert errors_of(response)[0]["code"] == "FORBIDDEN"
    anonymous = api.get("/v1/billing/subscription")
    assert anonymous.status_code == 401
    # an API token (business has api_access) acts within its abilities only
    made = api.post(
        "/v1/api-tokens", json={"name": "reader", "abilities": ["read"]}, headers=bearer(token)
    )
    assert made.status_code == 201, made.text
    reader = made.json()["data"]["token"]
    assert api.get("/v1/billing/subscription", headers=bearer(reader)).status_code == 200
    portal = api.post("/v1/billing/portal", headers=bearer(reader))
    assert portal.status_code == 403
    assert errors_of(portal)[0]["code"] == "TOKEN_ABILITY_REQUIRED"
    # a second workspace sees only its own (nothing): no plan, no customer, no portal
    other, _ = owner(api)
    theirs = subscription(api, other)
    assert theirs["plan"] == "starter" and theirs["status"] == "none"
    assert api.post("/v1/billing/portal", headers=bearer(other)).status_code == 409


def test_bad_signatures_change_nothing(api: httpx.Client, stack: Stack) -> None:
    token, tenant_id = owner(api)
    session_id = checkout(api, token)
    events = fake(stack).complete_checkout(session_id, deliver=False)
    created = events[0]
    attempts = [
        deliver(api, stack, created, secret="whsec_wrong"),
        deliver(api, stack, created, timestamp=int(time.time()) - 3600),  # stale: replayed later
    ]
    payload, headers = fake(stack).signed(created)
    attempts.append(api.post("/v1/webhooks/stripe", content=payload + b" ", headers=headers))
    tampered = copy.deepcopy(created)
    tampered["data"]["object"]["status"] = "active"
    tampered_payload, _ = fake(stack).signed(tampered)
    attempts.append(api.post("/v1/webhooks/stripe", content=tampered_payload, headers=headers))
    unsigned = {k: v for k, v in headers.items() if k != "Stripe-Signature"}
    attempts.append(api.post("/v1/webhooks/stripe", content=payload, headers=unsigned))
    attempts.append(
        api.post(
            "/v1/webhooks/stripe", content=b"not json", headers={"Stripe-Signature": "t=1,v1=00"}
        )
    )
    for response in attempts:
        assert response.status_code == 400, response.text
        assert errors_of(response)[0]["code"] == "INVALID_SIGNATURE"
    assert (
        sql(stack, "SELECT count(*) FROM billing.stripe_events WHERE id = $1", created["id"])[0][0]
        == 0
    )
    assert (
        sql(stack, "SELECT count(*) FROM billing.subscriptions WHERE tenant_id = $1", tenant_id)[0][
            0
        ]
        == 0
    )
    assert subscription(api, token)["status"] == "none"


def test_a_replayed_event_is_a_no_op(api: httpx.Client, stack: Stack) -> None:
    token, tenant_id = owner(api)
    session_id = checkout(api, token)
    events = fake(stack).complete_checkout(session_id)
    wait_for_subscription(api, token, "trialing", status="trialing")
    announced = "SELECT count(*) FROM billing.outbox WHERE subject = $1 AND tenant_id = $2"
    count = sql(stack, announced, "billing.entitlements.changed", tenant_id)[0][0]
    assert count == 1
    for event in events:
        again = deliver(api, stack, event)
        assert again.status_code == 200, again.text
        assert again.json()["data"] == {"received": True, "duplicate": True}
    assert sql(stack, announced, "billing.entitlements.changed", tenant_id)[0][0] == count
    assert (
        sql(stack, "SELECT count(*) FROM billing.stripe_events WHERE tenant_id = $1", tenant_id)[0][
            0
        ]
        == 3
    )


def test_an_update_before_the_checkout_completion_ends_right(
    api: httpx.Client, stack: Stack
) -> None:
    token, _ = owner(api)
    session_id = checkout(api, token, "business")
    completed = fake(stack).complete_checkout(session_id, deliver=False)
    subscription_id = completed[0]["data"]["object"]["id"]
    later = fake(stack).subscription_action(subscription_id, "end_trial", deliver=False)
    for event in [*reversed(later), *reversed(completed)]:  # newest first
        assert deliver(api, stack, event).status_code == 200
    now = wait_for_subscription(api, token, "active", status="active")
    assert now["plan"] == "business" and now["trial_ends_at"] is not None
    # the trial's own snapshot, arriving last, did not take the subscription back to trialing
    assert subscription(api, token)["status"] == "active"


def test_payment_failure_keeps_the_plan_for_the_grace_period_then_starter(
    api: httpx.Client, stack: Stack
) -> None:
    token, tenant_id = owner(api)
    subscription_id = subscribe(stack, api, token)
    fake(stack).subscription_action(subscription_id, "fail_payment")
    past_due = wait_for_subscription(api, token, "past due", status="past_due")
    assert past_due["plan"] == "professional" and past_due["grace_ends_at"] is not None
    assert api.post(PROFESSIONAL_ONLY, headers=bearer(token)).status_code == 200
    # The grace period passes (7 days, simulated: the unpaid period began 8 days ago).
    sql(
        stack,
        "UPDATE billing.subscriptions SET current_period_start = now() - interval '8 days'"
        " WHERE id = $1",
        subscription_id,
    )
    sql(stack, "UPDATE billing.entitlements SET review_at = now() WHERE tenant_id = $1", tenant_id)
    wait_for_subscription(api, token, "after grace", plan="starter", status="past_due")
    wait_until(
        lambda: api.post(PROFESSIONAL_ONLY, headers=bearer(token)).status_code == 403,
        "Connect refused after the grace period",
    )
    # paying restores the plan at once
    fake(stack).subscription_action(subscription_id, "pay")
    wait_for_subscription(api, token, "paid", plan="professional", status="active")
    wait_until(
        lambda: api.post(PROFESSIONAL_ONLY, headers=bearer(token)).status_code == 200,
        "Connect allowed again",
    )


def test_a_plan_change_in_the_portal_reaches_the_principal(api: httpx.Client, stack: Stack) -> None:
    token, _ = owner(api)
    subscription_id = subscribe(stack, api, token, "professional")
    made = api.post("/v1/api-tokens", json={"name": "ci"}, headers=bearer(token))
    assert made.status_code == 403 and errors_of(made)[0]["code"] == "PLAN_FEATURE_REQUIRED"
    fake(stack).subscription_action(subscription_id, "change_price", price="price_business_year")
    changed = wait_for_subscription(api, token, "upgraded", plan="business")
    assert changed["interval"] == "year" and changed["limits"]["seats"] == 50
    wait_until(
        lambda: (
            api.post("/v1/api-tokens", json={"name": "ci"}, headers=bearer(token)).status_code
            == 201
        ),
        "API tokens allowed on business",
    )


def test_the_subscription_shows_usage_against_its_limits(api: httpx.Client, stack: Stack) -> None:
    """Members from identity, numbers and this month's conversations and messages from inbox."""
    token, _ = owner(api)
    fresh = subscription(api, token)
    assert fresh["limits"]["seats"] == 3 and fresh["limits"]["whatsapp_numbers"] == 1
    assert fresh["usage"] == {
        "members": 1,
        "whatsapp_numbers": 0,
        "conversations_this_month": 0,
        "messages_this_month": 0,
    }
    join(api, token)
    assert stack.evolution is not None, "PLIXA_EVOLUTION_URL set: this test needs the fake"
    name = pair(api, stack.evolution, token)["instance_name"]
    inbound = stack.evolution.inbound_text(name, unique_phone(), "hello")
    assert inbound.status_code == 200, inbound.text
    assert subscription(api, token)["usage"] == {
        "members": 2,
        "whatsapp_numbers": 1,
        "conversations_this_month": 1,
        "messages_this_month": 1,
    }
    # Another workspace's figures are its own.
    other, _ = owner(api)
    assert subscription(api, other)["usage"]["members"] == 1
    assert subscription(api, other)["usage"]["whatsapp_numbers"] == 0
