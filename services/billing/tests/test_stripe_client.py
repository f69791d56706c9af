"""Billing's Stripe client against the local fake, in process: the library's wire format as the
fake reads it, idempotent creates, error mapping, and signature verification."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from scripts.mesh import Stack
from services.billing.clients.stripe_api import BadSignature, StripeApi
from services.kit.errors import DomainError
from tests.fakes.stripe import StripeFake, decode_form, sign

SECRET = "whsec_unit"


@pytest.fixture
def stripe_fake() -> Iterator[StripeFake]:
    fake = StripeFake(webhook_secret=SECRET).start()
    try:
        yield fake
    finally:
        fake.stop()


def client(fake: StripeFake, key: str = "sk_test_unit") -> StripeApi:
    return StripeApi(key, fake.url, SECRET, retries=0)


def test_bracket_form_encoding_decodes_to_nested_values() -> None:
    pairs = [
        ("line_items[0][price]", "price_x"),
        ("line_items[0][quantity]", "1"),
        ("metadata[tenant_id]", "7"),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("mode", "subscription"),
    ]
    assert decode_form(pairs) == {
        "line_items": [{"price": "price_x", "quantity": "1"}],
        "metadata": {"tenant_id": "7"},
        "expand": ["a", "b"],
        "mode": "subscription",
    }


def test_creates_are_idempotent_and_checkout_carries_the_trial(stripe_fake: StripeFake) -> None:
    api = client(stripe_fake)

    async def run() -> None:
        first = await api.create_customer(5, "Workspace 5")
        assert await api.create_customer(5, "Workspace 5") == first  # the same key: replayed
        session = await api.create_subscription_checkout(
            tenant_id=5,
            customer_id=first,
            price_id="price_professional_month",
            plan="professional",
            interval="month",
            trial_days=7,
            success_url="http://panel/ok",
            cancel_url="http://panel/no",
            idempotency_key="k1",
        )
        assert session.id.startswith("cs_test_") and session.url.endswith(session.id)
        events = stripe_fake.complete_checkout(session.id, deliver=False)
        subscription = await api.retrieve_subscription(events[0]["data"]["object"]["id"])
        assert subscription["status"] == "trialing" and subscription["metadata"]["tenant_id"] == "5"

    asyncio.run(run())
    customers = stripe_fake.requests_to("POST", "/v1/customers")
    assert len({r.headers["idempotency-key"] for r in customers}) == 1
    assert len([o for o in stripe_fake.objects.values() if o["object"] == "customer"]) == 1


def test_provider_failures_are_503_with_a_code(stripe_fake: StripeFake) -> None:
    async def run() -> None:
        with pytest.raises(DomainError) as bad_key:
            await client(stripe_fake, key="rk_wrong").create_customer(1, "x")
        assert (bad_key.value.code, bad_key.value.http_status) == (
            "PAYMENT_PROVIDER_UNAVAILABLE",
            503,
        )
        with pytest.raises(DomainError):
            await client(stripe_fake).create_portal_session("cus_missing", "http://panel")

    asyncio.run(run())


def test_a_stripe_that_never_answers_is_a_503_after_the_timeout() -> None:
    with socket.socket() as silent:  # accepts the connection, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        api = StripeApi(
            "sk_test_unit", f"http://127.0.0.1:{silent.getsockname()[1]}", SECRET, 0, timeout=0.5
        )

        async def run() -> None:
            started = time.monotonic()
            with pytest.raises(DomainError) as stuck:
                await api.create_customer(1, "x")
            assert stuck.value.code == "PAYMENT_PROVIDER_UNAVAILABLE"
            assert time.monotonic() - started < 10  # not the library's 80 s

        asyncio.run(run())


def test_only_a_good_fresh_signature_over_the_exact_body_verifies(stripe_fake: StripeFake) -> None:
    api = client(stripe_fake)
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "invoice.paid",
        "created": 1,
        "data": {"object": {"id": "in_1", "object": "invoice"}},
    }
    payload, headers = stripe_fake.signed(event)
    assert api.verify_event(payload, headers["Stripe-Signature"])["id"] == "evt_1"
    now = int(time.time())
    good = sign(payload, SECRET, now).split(",")[1]
    both = sign(payload, "whsec_old", now) + "," + good  # one timestamp, two v1 signatures
    assert api.verify_event(payload, both)["id"] == "evt_1"  # several v1 (a rotated secret)
    for body, signature in (
        (payload, sign(payload, "whsec_other")),
        (payload + b"\n", headers["Stripe-Signature"]),
        (payload, sign(payload, SECRET, int(time.time()) - 301)),
        (payload, ""),
        (b"[]", sign(b"[]", SECRET)),
        (
            json.dumps({"object": "event"}).encode(),
            sign(json.dumps({"object": "event"}).encode(), SECRET),
        ),
    ):
        with pytest.raises(BadSignature):
            api.verify_event(body, signature)


def test_opening_the_hosted_checkout_pays_and_goes_back(stripe_fake: StripeFake) -> None:
    async def start() -> str:
        api = client(stripe_fake)
        customer = await api.create_customer(9, "Workspace 9")
        session = await api.create_subscription_checkout(
            tenant_id=9,
            customer_id=customer,
            price_id="price_business_year",
            plan="business",
            interval="year",
            trial_days=0,
            success_url="http://panel/ok?sid={CHECKOUT_SESSION_ID}",
            cancel_url="http://panel/no",
            idempotency_key="k9",
        )
        return session.url

    url = asyncio.run(start())
    opened = httpx.get(url, follow_redirects=False)
    session_id = url.rsplit("/", 1)[-1]
    assert opened.status_code == 303
    assert opened.headers["location"] == f"http://panel/ok?sid={session_id}"
    assert [e["type"] for e in stripe_fake.events] == [
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    ]
    assert stripe_fake.events[0]["data"]["object"]["status"] == "active"  # no trial asked
    assert httpx.get(url, follow_redirects=False).status_code == 400  # no longer open


def test_the_stack_starts_the_fake_only_without_stripe_settings() -> None:
    local = Stack(database_url="postgresql://unused/none")
    try:
        env = local.stripe_env({})
        assert local.stripe is not None and env["PLIXA_STRIPE_API_BASE"] == local.stripe.url
        assert env["PLIXA_STRIPE_WEBHOOK_SECRET"] == local.stripe.webhook_secret
        assert local.stripe_env({}) == env  # one fake per stack
    finally:
        if local.stripe is not None:
            local.stripe.stop()
    configured = Stack(database_url="postgresql://unused/none")
    assert configured.stripe_env({"PLIXA_STRIPE_SECRET_KEY": "sk_live_x"}) == {}
    assert configured.stripe_env({"PLIXA_STRIPE_API_BASE": "http://stripe-mock:12111"}) == {}
    assert configured.stripe is None
