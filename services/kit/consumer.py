"""Durable, idempotent event consumers.

Each handled event id is recorded in `processed_events` in the same transaction as the handler's
effect, so a redelivery is a no-op. A failing message is retried with a delay and, after
`max_deliveries`, kept in `dead_events` and terminated so it cannot block the stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError
from sqlalchemy import text

from services.kit.db import Database, UnitOfWork
from services.kit.messaging import NatsLink, ensure_stream, stream_name
from services.kit.principal import ANONYMOUS

log = logging.getLogger("plixa.consumer")

# A handler works inside the same unit of work that records the event as processed, so its
# effect, its own emitted events and the record commit together.
Handler = Callable[[UnitOfWork, Msg], Awaitable[None]]
# A batched subscription's handler for a whole fetched batch: its events not processed before,
# in stream order, so it can write them with one multi-row statement per table.
BatchHandler = Callable[[UnitOfWork, list[Msg]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """`durable` names this consumer; `subject` is e.g. "identity.user.registered"."""

    durable: str
    subject: str
    handler: Handler
    max_deliveries: int = 5
    # Handle each fetched batch in one transaction (one commit for up to 20 events): for
    # high-volume streams. A batch that fails is handled again one event at a time, so a bad
    # event is retried and dead-lettered alone.
    batched: bool = False
    # With `batched`: handles the batch's new events in one call instead of `handler` per event
    # (`handler` still handles an event alone, as when a failed batch is retried).
    batch_handler: BatchHandler | None = None


class EventConsumer:
    def __init__(self, db: Database, nats: NatsLink, subscription: Subscription) -> None:
        self.db = db
        self.engine = db.engine
        self.nats = nats
        self.sub = subscription

    async def run(self) -> None:
        js = await self.nats.jetstream()
        source_service = self.sub.subject.split(".", 1)[0]
        while True:
            try:
                await ensure_stream(js, source_service)
                pull = await js.pull_subscribe(
                    self.sub.subject,
                    durable=self.sub.durable,
                    stream=stream_name(source_service),
                    config=ConsumerConfig(
                        ack_policy=AckPolicy.EXPLICIT,
                        deliver_policy=DeliverPolicy.ALL,
                        ack_wait=30,
                        max_deliver=self.sub.max_deliveries + 1,
                    ),
                )
                break
            except Exception as exc:
                log.warning("cannot subscribe %s yet: %s", self.sub.durable, exc)
                await asyncio.sleep(1)
        try:
            while True:
                try:
                    messages = await pull.fetch(batch=20, timeout=1.0)
                except (FetchTimeoutError, TimeoutError):
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # NATS reconnecting: wait and pull again
                    log.warning("fetch failed for %s: %s", self.sub.durable, exc)
                    await asyncio.sleep(0.5)
                    continue
                if self.sub.batched and len(messages) > 1:
                    await self.handle_batch(messages)
                    continue
                for msg in messages:
                    await self.handle(msg)
        finally:
            # The durable consumer stays on the server; only this process's interest ends.
            with contextlib.suppress(Exception):
                await pull.unsubscribe()

    async def handle_batch(self, messages: list[Msg]) -> None:
        ids = [(m.headers or {}).get("Nats-Msg-Id", "") for m in messages]
        if not all(ids):
            for msg in messages:
                await self.handle(msg)
            return
        try:
            async with self.db.unit_of_work(ANONYMOUS) as uow:
                # One statement records the whole batch; an id seen before (or twice in the
                # batch) comes back once at most, and only its first message is handled.
                recorded = await uow.conn.execute(
                    text(
                        "INSERT INTO processed_events (consumer, event_id) "
                        "SELECT :c, unnest(CAST(:e AS text[])) ON CONFLICT DO NOTHING "
                        "RETURNING event_id"
                    ),
                    {"c": self.sub.durable, "e": ids},
                )
                new_ids = set(recorded.scalars())
                fresh = []
                for msg, event_id in zip(messages, ids, strict=True):
                    if event_id in new_ids:
                        new_ids.discard(event_id)
                        fresh.append(msg)
                if self.sub.batch_handler is not None:
                    if fresh:
                        await self.sub.batch_handler(uow, fresh)
                else:
                    for msg in fresh:
                        await self.sub.handler(uow, msg)
        except Exception as exc:
            log.warning("batch of %d failed (%s): one at a time", len(messages), exc)
            for msg in messages:
                await self.handle(msg)
            return
        for msg in messages:
            await msg.ack()

    async def handle(self, msg: Msg) -> None:
        event_id = (msg.headers or {}).get("Nats-Msg-Id", "")
        if not event_id:
            log.error("event without id on %s: terminated", msg.subject)
            await msg.term()
            return
        try:
            async with self.db.unit_of_work(ANONYMOUS) as uow:
                first_time = await uow.conn.scalar(
                    text(
                        "INSERT INTO processed_events (consumer, event_id) VALUES (:c, :e) "
                        "ON CONFLICT DO NOTHING RETURNING 1"
                    ),
                    {"c": self.sub.durable, "e": event_id},
                )
                if first_time:
                    await self.sub.handler(uow, msg)
            await msg.ack()
        except Exception as exc:
            deliveries = msg.metadata.num_delivered
            if deliveries >= self.sub.max_deliveries:
                log.error("event %s dead after %d tries: %s", event_id, deliveries, exc)
                async with self.engine.begin() as conn:
                    await conn.execute(
                        text(
                            "INSERT INTO dead_events (consumer, subject, event_id, payload, error) "
                            "VALUES (:c, :s, :e, :p, :err)"
                        ),
                        {
                            "c": self.sub.durable,
                            "s": msg.subject,
                            "e": event_id,
                            "p": msg.data,
                            "err": repr(exc)[:2000],
                        },
                    )
                await msg.term()
            else:
                log.warning("event %s failed (try %d): %s", event_id, deliveries, exc)
                await msg.nak(delay=min(2**deliveries, 30))
