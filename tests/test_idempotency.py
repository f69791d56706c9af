"""Idempotency-Key over HTTP against real gateways sharing one NATS KV store: replays byte for
byte, a reused key, a burst that does the thing once, failures that are not kept."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gateway.idempotency import Claim, Idempotency, fingerprint
from scripts.mesh import Stack
from services.kit.config import DEV_INTERNAL_SECRET
from services.kit.messaging import NatsLink
from tests.conftest import (
    PASSWORD,
    announce_plan,
    bearer,
    errors_of,
    register,
    registration,
    sql,
    unique_email,
)

REPLAYED = "Idempotent-Replayed"


def key() -> str:
    return str(uuid.uuid4())


def invitations_for(stack: Stack, email: str) -> int:
    [row] = sql(stack, "SELECT count(*) FROM identity.invitations WHERE email = $1", email)
    return int(row[0])


@pytest.fixture(scope="module")
def second_gateway(stack: Stack) -> Iterator[str]:
    """Another replica: it shares the idempotency store with the session's gateway."""
    yield stack.start_gateway("gateway-idempotency")
    stack.stop_process("gateway-idempotency")


def test_a_retry_gets_the_first_answer_byte_for_byte(api: httpx.Client, stack: Stack) -> None:
    owner = bearer(register(api)["token"])
    email = unique_email("invitee")
    headers = {**owner, "Idempotency-Key": key()}
    first = api.post("/v1/team/invitations", json={"email": email}, headers=headers)
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers

    again = api.post("/v1/team/invitations", json={"email": email}, headers=headers)
    assert again.status_code == 201
    assert again.content == first.content  # the same one-shot token and accept_url
    assert again.headers[REPLAYED] == "true"
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    assert "X-RateLimit-Remaining" in again.headers
    assert invitations_for(stack, email) == 1

    # The same request written differently (key order, spaces) is the same request.
    reordered = api.post(
        "/v1/team/invitations",
        content=json.dumps({"role": None, "email": email}, indent=2),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert reordered.content == first.content
    assert reordered.headers[REPLAYED] == "true"

    # Without a key, or with another one, it runs (and the service says it is a duplicate).
    unkeyed = api.post("/v1/team/invitations", json={"email": email}, headers=owner)
    assert unkeyed.status_code == 422
    assert REPLAYED not in unkeyed.headers


def test_the_same_key_with_another_request_is_422(api: httpx.Client) -> None:
    owner = bearer(register(api)["token"])
    headers = {**owner, "Idempotency-Key": key()}
    first = api.post("/v1/team/invitations", json={"email": unique_email()}, headers=headers)
    assert first.status_code == 201
    other_body = api.post("/v1/team/invitations", json={"email": unique_email()}, headers=headers)
    assert other_body.status_code == 422
    assert errors_of(other_body)[0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    other_route = api.post("/v1/me/availability/heartbeat", headers=headers)
    assert other_route.status_code == 422
    assert errors_of(other_route)[0]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_keys_are_bounded_and_scoped(api: httpx.Client, stack: Stack) -> None:
    owner = bearer(register(api)["token"])
    too_long = api.post(
        "/v1/me/availability/heartbeat", headers={**owner, "Idempotency-Key": "k" * 256}
    )
    assert too_long.status_code == 422
    assert errors_of(too_long)[0]["field"] == "Idempotency-Key"
    longest = api.post(
        "/v1/me/availability/heartbeat", headers={**owner, "Idempotency-Key": "k" * 255}
    )
    assert longest.status_code == 200

    # Another workspace's identical request with the same key is its own: it runs.
    shared_key = key()
    email = unique_email("invitee")
    for token in (owner, bearer(register(api)["token"])):
        response = api.post(
            "/v1/team/invitations",
            json={"email": email},
            headers={**token, "Idempotency-Key": shared_key},
        )
        assert response.status_code == 201
        assert REPLAYED not in response.headers
    assert invitations_for(stack, email) == 2

    # Only POST keeps answers; other verbs are idempotent by definition.
    for _ in range(2):
        read = api.get("/v1/me", headers={**owner, "Idempotency-Key": shared_key})
        assert read.status_code == 200
        assert REPLAYED not in read.headers


def test_a_refusal_by_the_service_is_kept_but_invalid_input_is_not(api: httpx.Client) -> None:
    owner = bearer(register(api)["token"])
    taken = register(api)["user"]["email"]
    headers = {**owner, "Idempotency-Key": key()}
    first = api.post("/v1/team/invitations", json={"email": taken}, headers=headers)
    assert first.status_code == 422  # the service ran: "already belongs to a Plixa account"
    again = api.post("/v1/team/invitations", json={"email": taken}, headers=headers)
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"

    # Refused by the gateway before any call: nothing ran, nothing is kept for the key.
    headers = {**owner, "Idempotency-Key": key()}
    invalid = api.post("/v1/team/invitations", json={"email": "nope"}, headers=headers)
    assert invalid.status_code == 422
    fixed = api.post("/v1/team/invitations", json={"email": unique_email()}, headers=headers)
    assert fixed.status_code == 201
    assert REPLAYED not in fixed.headers


def test_a_failure_on_our_side_is_not_kept(
    api: httpx.Client, stack: Stack, second_gateway: str
) -> None:
    email = unique_email()
    register(api, email=email)
    # A sign-in hashes the password (scrypt: always well over 3 ms), so a 3 ms gateway times out.
    sign_in = {"email": email, "password": PASSWORD}
    headers = {"Idempotency-Key": key()}
    impatient = stack.start_gateway(
        "gateway-idempotency-3ms", env={"PLIXA_GATEWAY_TIMEOUT_MS": "3"}
    )
    try:
        timed_out = httpx.post(f"{impatient}/v1/auth/login", json=sign_in, headers=headers)
    finally:
        stack.stop_process("gateway-idempotency-3ms")
    assert timed_out.status_code == 504
    # The key was released: the retry (on another replica) runs instead of replaying the 504.
    retry = httpx.post(f"{second_gateway}/v1/auth/login", json=sign_in, headers=headers)
    assert retry.status_code == 200
    assert REPLAYED not in retry.headers


def test_replicas_share_the_store(api: httpx.Client, stack: Stack, second_gateway: str) -> None:
    owner = bearer(register(api)["token"])
    email = unique_email("invitee")
    headers = {**owner, "Idempotency-Key": key()}
    first = api.post("/v1/team/invitations", json={"email": email}, headers=headers)
    assert first.status_code == 201
    elsewhere = httpx.post(
        f"{second_gateway}/v1/team/invitations", json={"email": email}, headers=headers
    )
    assert elsewhere.headers[REPLAYED] == "true"
    assert elsewhere.content == first.content
    assert invitations_for(stack, email) == 1


def test_a_burst_with_one_key_does_it_once(
    api: httpx.Client, gateway_url: str, stack: Stack, second_gateway: str
) -> None:
    owner = bearer(register(api)["token"])
    email = unique_email("invitee")
    headers = {**owner, "Idempotency-Key": key()}

    def send(index: int) -> httpx.Response:
        url = (gateway_url, second_gateway)[index % 2]
        return httpx.post(
            f"{url}/v1/team/invitations", json={"email": email}, headers=headers, timeout=30
        )

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(12)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, [a.text for a in answers]
    created = [a for a in answers if a.status_code == 201]
    assert len([a for a in created if REPLAYED not in a.headers]) == 1
    assert len({a.content for a in created}) == 1
    for busy in (a for a in answers if a.status_code == 409):
        assert errors_of(busy)[0]["code"] == "IDEMPOTENCY_KEY_IN_USE"
        assert busy.headers["Retry-After"] == "1"
    assert invitations_for(stack, email) == 1

    # API tokens: the secret shown once is shown again to the retry, and created once.
    tenant = register(api)
    announce_plan(stack, tenant["tenant"]["id"], "business")
    token_headers = {**bearer(tenant["token"]), "Idempotency-Key": key()}
    name = f"crm-{uuid.uuid4().hex[:6]}"

    def create(index: int) -> httpx.Response:
        url = (gateway_url, second_gateway)[index % 2]
        for _ in range(50):  # entitlements arrive by event: wait for the plan
            response = httpx.post(
                f"{url}/v1/api-tokens", json={"name": name}, headers=token_headers, timeout=30
            )
            if response.status_code != 403:
                return response
        return response

    with ThreadPoolExecutor(max_workers=6) as pool:
        tokens = list(pool.map(create, range(6)))
    assert {t.status_code for t in tokens} <= {201, 409}, [t.text for t in tokens]
    assert len({t.content for t in tokens if t.status_code == 201}) == 1
    [row] = sql(
        stack,
        "SELECT count(*) FROM identity.tokens WHERE tenant_id = $1 AND name = $2",
        tenant["tenant"]["id"],
        f"api:{name}",
    )
    assert row[0] == 1


def test_public_routes_are_scoped_by_client_address(api: httpx.Client) -> None:
    body = registration()
    headers = {"Idempotency-Key": key()}
    first = api.post("/v1/auth/register", json=body, headers=headers)
    assert first.status_code == 201
    retry = api.post("/v1/auth/register", json=body, headers=headers)
    assert retry.status_code == 201  # not "the email has already been taken"
    assert retry.content == first.content
    assert retry.headers[REPLAYED] == "true"


def test_a_claim_left_by_a_dead_gateway_expires(api: httpx.Client, stack: Stack) -> None:
    """A replica that died mid-request leaves its key in flight: retries wait for the claim to
    outlive the route's deadline, then run, rather than meet a 409 for a day."""
    session = register(api)
    headers = {**bearer(session["token"]), "Idempotency-Key": key()}
    secret = stack.env().get("PLIXA_INTERNAL_SECRET", DEV_INTERNAL_SECRET).encode()

    async def claim_and_die() -> None:
        link = NatsLink(stack.nats_url, "test-dying-gateway")
        link.start()
        try:
            await link.ready()
            store = Idempotency(link, secret, ttl_seconds=3600)
            heartbeat = fingerprint("/plixa.identity.v1.Availability/Heartbeat", b"")
            claim = await store.begin(
                f"t{session['tenant']['id']}", headers["Idempotency-Key"], heartbeat, 1.0
            )
            assert isinstance(claim, Claim)  # and never finished
        finally:
            await link.close()

    asyncio.run(claim_and_die())
    started = time.monotonic()
    retry = api.post("/v1/me/availability/heartbeat", headers=headers)
    assert retry.status_code == 200, retry.text
    assert REPLAYED not in retry.headers
    assert time.monotonic() - started > 0.3  # it waited for the claim to expire
    again = api.post("/v1/me/availability/heartbeat", headers=headers)
    assert again.headers[REPLAYED] == "true"
    assert again.content == retry.content
