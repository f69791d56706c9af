"""The durable consumer helper against a real NATS JetStream and PostgreSQL: a redelivered event
has no second effect, a failing one is retried, a poison one ends in dead_events."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from nats.aio.msg import Msg
from sqlalchemy import text

from scripts.mesh import Stack
from services.kit.clock import SystemClock
from services.kit.config import asyncpg_url
from services.kit.consumer import EventConsumer, Subscription
from services.kit.db import Database, UnitOfWork, create_engine
from services.kit.messaging import NatsLink, ensure_stream
from services.kit.migrations import migrate_service
from tests.conftest import ADMIN_URL


@pytest.fixture(scope="module")
def infra() -> Iterator[Stack]:
    stack = Stack.for_tests(ADMIN_URL, services=())
    stack.start_nats()
    asyncio.run(_create_database(stack.database_url))
    asyncio.run(migrate_service("backoffice", stack.database_url))
    yield stack
    stack.stop()


async def _create_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()


@pytest.fixture
async def link(infra: Stack) -> AsyncIterator[NatsLink]:
    nats_link = NatsLink(infra.nats_url, "kit-test")
    nats_link.start()
    await ensure_stream(await nats_link.jetstream(), "kittest")
    yield nats_link
    await nats_link.close()


async def publish(link: NatsLink, subject: str) -> str:
    event_id = str(uuid.uuid4())
    js = await link.jetstream()
    await js.publish(subject, b"payload", headers={"Nats-Msg-Id": event_id})
    return event_id


async def run_until(consumer: EventConsumer, done: asyncio.Event) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(done.wait(), timeout=20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_redelivered_event_has_no_second_effect(infra: Stack, link: NatsLink) -> None:
    engine = create_engine(infra.database_url, "backoffice", pool_size=2)
    db = Database(engine, "backoffice", SystemClock())
    effects: list[str] = []
    delivered: list[Msg] = []
    done = asyncio.Event()

    async def handler(uow: UnitOfWork, msg: Msg) -> None:
        effects.append(msg.headers["Nats-Msg-Id"])  # type: ignore[index]
        delivered.append(msg)
        done.set()

    consumer = EventConsumer(db, link, Subscription("kit-once", "kittest.once", handler))
    event_id = await publish(link, "kittest.once")
    await run_until(consumer, done)
    await consumer.handle(delivered[0])  # the same message again, as after a lost ack
    assert effects == [event_id]
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT consumer FROM processed_events"))).all()
    assert [r.consumer for r in rows] == ["kit-once"]
    await engine.dispose()


async def test_failures_are_retried_then_kept_as_dead(infra: Stack, link: NatsLink) -> None:
    engine = create_engine(infra.database_url, "backoffice", pool_size=2)
    db = Database(engine, "backoffice", SystemClock())
    attempts: dict[str, int] = {}

    async def flaky(uow: UnitOfWork, msg: Msg) -> None:
        attempts[msg.subject] = attempts.get(msg.subject, 0) + 1
        await uow.conn.execute(text("SELECT 1"))
        if msg.subject.endswith("poison") or attempts[msg.subject] < 2:
            raise RuntimeError(f"cannot handle {msg.subject} yet")

    consumer = EventConsumer(
        db, link, Subscription("kit-retry", "kittest.retry.*", flaky, max_deliveries=2)
    )
    await publish(link, "kittest.retry.flaky")
    poison_id = await publish(link, "kittest.retry.poison")

    async def outcome() -> tuple[list[tuple[str, str]], list[str]]:
        async with engine.connect() as conn:
            dead = (await conn.execute(text("SELECT event_id, error FROM dead_events"))).all()
            processed = (
                await conn.execute(
                    text("SELECT event_id FROM processed_events WHERE consumer = 'kit-retry'")
                )
            ).all()
        return [(d.event_id, d.error) for d in dead], [p.event_id for p in processed]

    task = asyncio.create_task(consumer.run())
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while True:  # the retry waits 2 s (backoff), so this settles within ~3 s
            dead, processed = await outcome()
            if (dead and processed) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert dead, f"no dead event after 30 s; attempts={attempts}"
    assert attempts["kittest.retry.flaky"] == 2, attempts  # failed once, then succeeded
    assert attempts["kittest.retry.poison"] == 2, attempts  # never more than max_deliveries
    assert [(event_id, "cannot handle" in error) for event_id, error in dead] == [(poison_id, True)]
    assert len(processed) == 1
    assert poison_id not in processed
    await engine.dispose()


async def test_a_batch_handler_gets_each_new_event_of_a_batch_once_in_order(
    infra: Stack, link: NatsLink
) -> None:
    engine = create_engine(infra.database_url, "backoffice", pool_size=2)
    db = Database(engine, "backoffice", SystemClock())
    batches: list[list[str]] = []
    singles: list[str] = []

    async def one(uow: UnitOfWork, msg: Msg) -> None:
        singles.append(msg.headers["Nats-Msg-Id"])  # type: ignore[index]

    async def many(uow: UnitOfWork, msgs: list[Msg]) -> None:
        batches.append([m.headers["Nats-Msg-Id"] for m in msgs])  # type: ignore[index]

    sub = Subscription("kit-batch", "kittest.batch", one, batched=True, batch_handler=many)
    consumer = EventConsumer(db, link, sub)
    ids = [await publish(link, "kittest.batch") for _ in range(5)]
    js = await link.jetstream()
    pull = await js.pull_subscribe("kittest.batch", durable="kit-batch-direct")
    messages = await pull.fetch(batch=5, timeout=5)
    assert [m.headers["Nats-Msg-Id"] for m in messages] == ids  # type: ignore[index]

    def again(msg: Msg) -> Msg:  # the same event delivered once more (a fresh, unacked message)
        return dataclasses.replace(msg, _ackd=False)

    await consumer.handle(again(messages[1]))  # handled alone before (its batch failed, say)
    await consumer.handle_batch([*messages, again(messages[3])])  # a redelivery within it too
    assert singles == [ids[1]]
    assert batches == [[ids[0], ids[2], ids[3], ids[4]]]
    await consumer.handle_batch([again(m) for m in messages])  # nothing new: no call
    assert len(batches) == 1
    await engine.dispose()


def test_asyncpg_url_spelling() -> None:
    assert asyncpg_url("postgresql://u@h/d") == "postgresql+asyncpg://u@h/d"
