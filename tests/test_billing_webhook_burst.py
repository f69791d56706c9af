"""Webhook robustness: 200 Stripe events of mixed types (checkouts completing, trials ending,
renewals failing and paid, cancellations), delivered concurrently, some twice and in a shuffled
order, end in the same state as the same histories delivered one by one in order."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from scripts.mesh import Stack
from tests.billing_support import WEBHOOK, checkout, fake, log_problems, owner, subscription
from tests.conftest import sql

# The history each workspace goes through (the variant is the workspace's index modulo 3).
HISTORIES = (
    ("end_trial", "fail_payment", "pay", "cancel"),  # ends canceled: starter
    ("trial_will_end", "end_trial", "fail_payment", "pay", "cancel_at_period_end"),
    ("end_trial", "renew", "fail_payment"),  # ends past due, within grace
)
WORKSPACES = 17
DELIVERIES = 200


def make_history(stack: Stack, api: httpx.Client, variant: int) -> tuple[str, int, list[Any]]:
    """A workspace whose Stripe history happened but was not delivered: (token, tenant, events)."""
    token, tenant_id = owner(api)
    events = fake(stack).complete_checkout(checkout(api, token, stack=stack), deliver=False)
    subscription_id = events[0]["data"]["object"]["id"]
    for action in HISTORIES[variant]:
        events += fake(stack).subscription_action(subscription_id, action, deliver=False)
    return token, tenant_id, events


def final_state(stack: Stack, api: httpx.Client, token: str, tenant_id: int) -> tuple[Any, ...]:
    stored = sql(
        stack,
        'SELECT status, plan, "interval", cancel_at_period_end, current_period_end '
        "FROM billing.subscriptions WHERE tenant_id = $1",
        tenant_id,
    )
    granted = sql(
        stack,
        "SELECT plan, status, features FROM billing.entitlements WHERE tenant_id = $1",
        tenant_id,
    )
    seen = subscription(api, token)
    return (
        [tuple(r)[:4] for r in stored],
        [tuple(r) for r in granted],
        (seen["plan"], seen["status"], seen["cancel_at_period_end"]),
    )


def test_concurrent_duplicated_shuffled_events_end_like_an_ordered_delivery(
    api: httpx.Client, stack: Stack
) -> None:
    reference = [make_history(stack, api, variant) for variant in range(len(HISTORIES))]
    for _, _, events in reference:  # one by one, in the order Stripe made them
        for event in events:
            payload, headers = fake(stack).signed(event)
            assert api.post(WEBHOOK, content=payload, headers=headers).status_code == 200
    expected = [final_state(stack, api, token, tenant) for token, tenant, _ in reference]
    assert [e[2][:2] for e in expected] == [
        ("starter", "canceled"),
        ("professional", "active"),
        ("professional", "past_due"),
    ]

    burst = [make_history(stack, api, i % len(HISTORIES)) for i in range(WORKSPACES)]
    events = [event for _, _, history in burst for event in history]
    rng = random.Random(9)
    deliveries = events + rng.sample(events, DELIVERIES - len(events))
    assert len(deliveries) == DELIVERIES and len(events) >= 140
    assert len({e["type"] for e in events}) >= 6
    rng.shuffle(deliveries)
    signed = [fake(stack).signed(event) for event in deliveries]

    clients: list[httpx.Client] = []
    local = threading.local()

    def post(item: tuple[bytes, dict[str, str]]) -> int:
        if not hasattr(local, "client"):  # one keep-alive client per sender
            local.client = httpx.Client(base_url=str(api.base_url), timeout=30)
            clients.append(local.client)
        return int(local.client.post(WEBHOOK, content=item[0], headers=item[1]).status_code)

    try:
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(post, signed))
    finally:
        for client in clients:
            client.close()
    assert statuses == [200] * DELIVERIES, log_problems(stack, "gateway", "billing")

    for i, (token, tenant_id, history) in enumerate(burst):
        got = final_state(stack, api, token, tenant_id)
        assert got == expected[i % len(HISTORIES)], (i, got)
        # and exactly Stripe's own final description of the subscription
        stripe_sub = fake(stack).objects[history[0]["data"]["object"]["id"]]
        period_end = sql(
            stack,
            "SELECT extract(epoch FROM current_period_end)::bigint "
            "FROM billing.subscriptions WHERE tenant_id = $1",
            tenant_id,
        )[0][0]
        assert period_end == stripe_sub["items"]["data"][0]["current_period_end"]
    processed = sql(
        stack,
        "SELECT count(*) FROM billing.stripe_events WHERE id = ANY($1::text[])",
        [e["id"] for e in events],
    )[0][0]
    assert processed == len(events)  # each event once, the duplicates were no-ops
