"""NATS authentication in the test stack: every process connects as its own user, allowed only
its own subjects, so one service's credentials (or none) cannot forge another's events. The
whole suite runs with this on: the services and gateway work as their own users."""

from __future__ import annotations

import asyncio
import datetime
import importlib
import pkgutil
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import nats
import nats.errors
import pytest
from nats.aio.client import Client

from plixa.billing.v1 import events_pb2
from scripts.mesh import Stack, without_credentials
from services.kit.config import SERVICES
from services.kit.nats_auth import CONSUMES
from tests.conftest import register, sql
from tests.waiting import PATIENCE_SECONDS

SUBJECT = "billing.entitlements.changed"


@asynccontextmanager
async def connected_as(stack: Stack, process: str, errors: list[str]) -> AsyncIterator[Client]:
    """A NATS connection with `process`'s credentials; the server's -ERRs land in `errors`."""

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    client = await nats.connect(
        without_credentials(stack.nats_url),
        user=process,
        password=stack.nats_passwords[process],
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        yield client
    finally:
        await client.close()


def business_plan(tenant_id: int) -> bytes:
    event = events_pb2.EntitlementsChanged(
        tenant_id=tenant_id, plan="business", status="active", features=["api_access"]
    )
    event.changed_at.FromDatetime(datetime.datetime.now(datetime.UTC))
    return event.SerializeToString()


def event_id() -> dict[str, str]:
    """Consumers need the event id (the outbox's Nats-Msg-Id) to apply an event once."""
    return {"Nats-Msg-Id": uuid.uuid4().hex}


def plan_of(stack: Stack, tenant_id: int) -> str | None:
    rows = sql(stack, "SELECT plan FROM identity.entitlements WHERE tenant_id = $1", tenant_id)
    return rows[0]["plan"] if rows else None


def test_inbox_credentials_cannot_publish_billing_events(api: httpx.Client, stack: Stack) -> None:
    tenant_id = int(register(api)["tenant"]["id"])
    errors: list[str] = []

    async def forge() -> None:
        async with connected_as(stack, "inbox", errors) as client:
            js = client.jetstream()
            # What an attacker would use: a JetStream publish (a request awaiting the stream's
            # ack). The server refuses the subject, so no ack ever comes.
            with pytest.raises((nats.errors.Error, asyncio.TimeoutError)):
                await js.publish(
                    SUBJECT,
                    business_plan(tenant_id),
                    timeout=1.0,
                    headers=event_id(),
                )
            # And a plain core publish: accepted by the client, refused by the server.
            await client.publish(SUBJECT, business_plan(tenant_id), headers=event_id())
            await client.flush(timeout=2)
            await asyncio.sleep(0.3)  # the -ERR arrives asynchronously

    asyncio.run(forge())
    assert any("permissions violation" in e.lower() and SUBJECT in e for e in errors), errors
    time.sleep(2)  # identity consumes within ~100 ms; give it ample time to (not) apply it
    assert plan_of(stack, tenant_id) != "business"


def test_billing_credentials_can_publish_billing_events(api: httpx.Client, stack: Stack) -> None:
    """The control: the same event from billing's own user reaches identity."""
    tenant_id = int(register(api)["tenant"]["id"])
    errors: list[str] = []

    async def announce() -> None:
        async with connected_as(stack, "billing", errors) as client:
            ack = await client.jetstream().publish(
                SUBJECT, business_plan(tenant_id), timeout=5.0, headers=event_id()
            )
            assert ack.stream == "PLIXA_BILLING"

    asyncio.run(announce())
    deadline = time.monotonic() + PATIENCE_SECONDS
    while plan_of(stack, tenant_id) != "business":
        assert time.monotonic() < deadline, "identity never applied billing's event"
        time.sleep(0.1)
    assert errors == []


def test_a_service_reads_only_the_streams_it_consumes(stack: Stack) -> None:
    """A service that does not consume billing's events (inbox did not, before it replicated
    plan limits) can neither follow billing's subjects on core NATS nor open a consumer on
    billing's stream."""
    errors: list[str] = []
    outsider = next(s for s in SERVICES if s != "billing" and "billing" not in CONSUMES.get(s, ()))

    async def snoop() -> None:
        async with connected_as(stack, outsider, errors) as client:
            await client.subscribe("billing.>")
            await client.flush(timeout=2)
            with pytest.raises((nats.errors.Error, asyncio.TimeoutError)):
                await client.jetstream().pull_subscribe(
                    SUBJECT, durable=f"{outsider}-snoop", stream="PLIXA_BILLING"
                )
            await asyncio.sleep(0.3)

    asyncio.run(snoop())
    assert any("subscription" in e.lower() and "billing.>" in e for e in errors), errors


def test_a_connection_without_credentials_is_refused(stack: Stack) -> None:
    async def anonymous() -> None:
        with pytest.raises(nats.errors.Error):
            await nats.connect(
                without_credentials(stack.nats_url),
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=2,
            )

    asyncio.run(anonymous())


def test_the_permissions_follow_the_services_subscriptions() -> None:
    """services/kit/nats_auth.py's CONSUMES lists exactly the streams each service's
    `SUBSCRIPTIONS` (in its events/ package) read from."""
    found: dict[str, set[str]] = {}
    for service in SERVICES:
        try:
            package = importlib.import_module(f"services.{service}.events")
        except ModuleNotFoundError:
            continue
        for module in pkgutil.iter_modules(package.__path__):
            loaded = importlib.import_module(f"{package.__name__}.{module.name}")
            for subscription in getattr(loaded, "SUBSCRIPTIONS", ()):
                found.setdefault(service, set()).add(subscription.subject.split(".", 1)[0])
    assert found == {service: set(streams) for service, streams in CONSUMES.items()}
