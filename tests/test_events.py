"""Events survive a NATS outage: committed through the outbox while NATS is down, published once
it is back, consumed exactly once by a durable consumer, across a consumer restart too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import httpx
import nats
import pytest

from scripts.mesh import Stack
from tests.conftest import ADMIN_URL, TEST_ENV, registration, sql
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def small_stack() -> Iterator[Stack]:
    """Its own database and NATS, so stopping NATS disturbs no other test."""
    stack = Stack.for_tests(
        ADMIN_URL, services=("identity", "backoffice"), extra_env=dict(TEST_ENV)
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def stream_messages(stack: Stack, stream: str) -> int:
    async def count() -> int:
        client = await nats.connect(stack.nats_url)
        try:
            info = await client.jetstream().stream_info(stream)
            return int(info.state.messages)
        finally:
            await client.close()

    return asyncio.run(count())


def test_event_committed_while_nats_is_down_arrives_exactly_once(small_stack: Stack) -> None:
    gateway = small_stack.start_gateway()
    small_stack.stop_nats()

    response = httpx.post(f"{gateway}/v1/auth/register", json=registration(), timeout=15)
    assert response.status_code == 201, response.text  # the API keeps working without NATS
    tenant_id = response.json()["data"]["tenant"]["id"]
    time.sleep(1.5)  # the relay tries, fails and keeps the row
    [pending] = sql(
        small_stack, "SELECT id, published_at FROM identity.outbox WHERE tenant_id = $1", tenant_id
    )
    assert pending["published_at"] is None
    assert (
        sql(
            small_stack, "SELECT 1 FROM backoffice.tenant_directory WHERE tenant_id = $1", tenant_id
        )
        == []
    )

    small_stack.start_nats()  # same port, same JetStream store

    def replicated() -> bool:
        rows = sql(
            small_stack, "SELECT 1 FROM backoffice.tenant_directory WHERE tenant_id = $1", tenant_id
        )
        return len(rows) == 1

    wait_until(replicated)
    event_id = str(pending["id"])
    [row] = sql(
        small_stack,
        "SELECT name, owner_email FROM backoffice.tenant_directory WHERE tenant_id = $1",
        tenant_id,
    )
    assert row["name"] == "Lucia Studios"
    processed = sql(
        small_stack,
        "SELECT consumer FROM backoffice.processed_events WHERE event_id = $1",
        event_id,
    )
    assert [p["consumer"] for p in processed] == ["backoffice-tenant-directory"]

    # The relay marks the row after the JetStream ack, so the consumer may see the event first.
    def marked_sent() -> bool:
        [sent] = sql(
            small_stack, "SELECT published_at FROM identity.outbox WHERE id = $1", pending["id"]
        )
        return sent["published_at"] is not None

    wait_until(marked_sent)
    assert stream_messages(small_stack, "PLIXA_IDENTITY") == 1

    # The consumer is durable: restarted, it neither replays the old event nor misses a new one.
    small_stack.stop_process("backoffice")
    second = httpx.post(f"{gateway}/v1/auth/register", json=registration(), timeout=15)
    assert second.status_code == 201
    small_stack.start_service("backoffice")
    second_tenant = second.json()["data"]["tenant"]["id"]
    wait_until(
        lambda: (
            len(
                sql(
                    small_stack,
                    "SELECT 1 FROM backoffice.tenant_directory WHERE tenant_id = $1",
                    second_tenant,
                )
            )
            == 1
        )
    )
    rows = sql(small_stack, "SELECT count(*) AS n FROM backoffice.processed_events")
    assert rows[0]["n"] == 2
    assert stream_messages(small_stack, "PLIXA_IDENTITY") == 2


def test_each_service_role_reaches_only_its_own_schema(small_stack: Stack) -> None:
    base, _, name = small_stack.database_url.rpartition("/")
    host = base.rpartition("@")[2]

    async def attempt() -> None:
        conn = await asyncpg.connect(f"postgresql://plixa_identity@{host}/{name}")
        try:
            assert await conn.fetchval("SELECT count(*) FROM identity.tenants") >= 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT * FROM backoffice.tenant_directory")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TABLE public.sneaky (id int)")
        finally:
            await conn.close()

    asyncio.run(attempt())
