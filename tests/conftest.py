"""End-to-end fixtures: one private Plixa per test session (fresh database, private NATS with
JetStream, every service and a gateway as real processes), spoken to over HTTP."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from scripts.mesh import Stack
from tests.waiting import PATIENCE_SECONDS

ADMIN_URL = os.environ.get(
    "PLIXA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# scrypt at 2^14 keeps the suite fast; production runs 2^17 (the hash records its own cost).
# Every test client shares 127.0.0.1, so the per-address sign-in class is widened here; the
# rate-limit tests start gateways with their own tight limits.
TEST_ENV = {
    "PLIXA_SCRYPT_LOG_N": "14",
    "PLIXA_LOG_LEVEL": "INFO",
    "PLIXA_RATE_LIMITS": "auth=10000/60,auth_failure=10000/60",
    "PLIXA_IDENTITY_SWEEP_SECONDS": "0.5",
    # Several stacks may be up at once and PostgreSQL allows 100 connections in all.
    "PLIXA_DB_POOL_SIZE": "8",  # scheduled jobs look often, so tests wait little
    "PLIXA_BILLING_SWEEP_SECONDS": "0.5",  # licence expiries and grace ends, applied soon
    "PLIXA_INBOX_SWEEP_SECONDS": "0.5",  # inbox: snooze wake-up and pending-send jobs
    # notifications may push to the local push service fake (tests/fakes/push_service.py)
    "PLIXA_WEBHOOK_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
}
PASSWORD = "super-secret-pw"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    stack = started_stack(lambda: Stack.for_tests(ADMIN_URL, extra_env=dict(TEST_ENV)))
    try:
        yield stack
    finally:
        stack.stop()


def started_stack(make: Callable[[], Stack], tries: int = 2) -> Stack:
    """A started stack; a start that failed (a process that could not bind or connect on a
    busy machine) is stopped, reported, and tried once more with fresh ports and database, so
    one bad start does not fail every test that shares the stack."""
    for attempt in range(1, tries + 1):
        stack = make()
        try:
            return stack.start()
        except Exception as error:
            stack.stop()
            if attempt == tries:
                raise
            print(f"\nthe test stack failed to start ({error}); trying again", file=sys.stderr)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def gateway_url(stack: Stack) -> str:
    return stack.start_gateway()


@pytest.fixture
def api(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=15) as client:
        yield client


def unique_email(prefix: str = "owner") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def registration(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Lucia Pereira",
        "email": unique_email(),
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        "company_name": "Lucia Studios",
        "country_code": "BR",
        "tax_id": "12.345.678/0001-90",
        "timezone": "America/Sao_Paulo",
        "locale": "pt",
    }
    body.update(overrides)
    return body


def register(api: httpx.Client, **overrides: Any) -> dict[str, Any]:
    """Registers a workspace and returns the `data` of the answer (user, tenant, token)."""
    response = api.post("/v1/auth/register", json=registration(**overrides))
    assert response.status_code == 201, response.text
    return response.json()["data"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["data"] is None
    assert body["meta"] is None
    return body["errors"]


def error_fields(response: httpx.Response) -> set[str | None]:
    return {e.get("field") for e in errors_of(response)}


def sql(stack: Stack, query: str, *args: Any) -> list[Any]:
    """Reads persisted state as the database administrator (tests look; services never cross)."""
    import asyncio

    import asyncpg

    async def run() -> list[Any]:
        conn = await asyncpg.connect(stack.database_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


# PLANS.md, as billing will announce it (the tests stand in for billing until it lands).
_PROFESSIONAL = [
    "ai_replies",
    "broadcasts",
    "custom_fields",
    "auto_assignment",
    "flows",
    "scheduling",
    "booking_deposits",
    "webhooks",
]
PLAN_FEATURES = {
    "starter": ["flows", "scheduling"],
    "professional": _PROFESSIONAL,
    "business": [*_PROFESSIONAL, "api_access"],
}
PLAN_LIMITS = {
    "starter": {"seats": 3, "whatsapp_numbers": 1, "ai_tokens_per_month": 0},
    "professional": {"seats": 10, "whatsapp_numbers": 2, "ai_tokens_per_month": 2_000_000},
    "business": {"seats": 50, "whatsapp_numbers": 5, "ai_tokens_per_month": 10_000_000},
}


def announce_plan(stack: Stack, tenant_id: int, plan: str, **limits: int) -> None:
    """Publishes billing.entitlements.changed on the stack's JetStream, as billing does."""
    import asyncio
    import datetime

    import nats

    from plixa.billing.v1 import events_pb2
    from services.kit.messaging import ensure_stream

    event = events_pb2.EntitlementsChanged(
        tenant_id=tenant_id,
        plan=plan,
        status="active",
        features=PLAN_FEATURES[plan],
        limits={**PLAN_LIMITS[plan], **limits},
    )
    event.changed_at.FromDatetime(datetime.datetime.now(datetime.UTC))

    async def publish() -> None:
        client = await nats.connect(stack.nats_url)
        try:
            js = client.jetstream()
            await ensure_stream(js, "billing")
            await js.publish(
                "billing.entitlements.changed",
                event.SerializeToString(),
                headers={"Nats-Msg-Id": uuid.uuid4().hex},
            )
        finally:
            await client.close()

    asyncio.run(publish())


def wait_for_status(
    api: httpx.Client, path: str, token: str, status: int, timeout: float = PATIENCE_SECONDS
) -> httpx.Response:
    """Polls a GET until it answers `status` (events take a moment to arrive)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        response = api.get(path, headers=bearer(token))
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


# Stacks shared by one group of modules (their own providers' fakes and settings) are stopped as
# soon as the run leaves the group: PostgreSQL's 100 connections are shared by every live stack.
_GROUP_STACKS = {
    "test_scheduling_": "tests.scheduling_support:stop_world",
    "test_notifications_": "tests.test_notifications_support:stop_notifications",
}


def _group(item: pytest.Item | None) -> str | None:
    if item is None:
        return None
    name = item.path.name
    return next((prefix for prefix in _GROUP_STACKS if name.startswith(prefix)), None)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    group = _group(item)
    if group is not None and _group(nextitem) != group:
        import importlib

        module, _, function = _GROUP_STACKS[group].partition(":")
        getattr(importlib.import_module(module), function)()
