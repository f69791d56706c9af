"""The transactional outbox: events are rows written in the business transaction; a relay
publishes them to JetStream with Nats-Msg-Id = event id and marks them sent only after the ack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import cache

from nats.js.api import PubAck
from nats.js.client import JetStreamContext
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.clock import Clock
from services.kit.messaging import NatsLink, ensure_stream

log = logging.getLogger("plixa.outbox")

ACK_SECONDS = 2.0  # how long a batch waits for its acks

# DDL for the kit's own tables lives with the migration runner (services/kit/migrations.py).


@cache
def outbox_table(schema: str) -> Table:
    return Table(
        "outbox",
        MetaData(schema=schema),
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("id", Uuid, nullable=False, unique=True),
        Column("subject", Text, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("tenant_id", BigInteger),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True)),
    )


class OutboxRelay:
    """Publishes unsent outbox rows, woken in-process after each commit that wrote some
    (`Database.on_events_committed`) and by polling for rows written elsewhere (a CLI, a
    replica whose relay stopped).

    Safe with several replicas: rows are claimed with FOR UPDATE SKIP LOCKED. A publish that
    fails leaves its row unsent; the retry reuses the event id, so JetStream drops a duplicate."""

    def __init__(
        self,
        engine: AsyncEngine,
        schema: str,
        nats: NatsLink,
        clock: Clock,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.nats = nats
        self.clock = clock
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.table = outbox_table(schema)
        # One statement text whatever the count (an IN list of n values is a new prepared
        # statement for each n).
        self._mark_published = text(
            f"UPDATE {schema}.outbox SET published_at = :now WHERE seq = ANY(:seqs)"
        )
        self._wake = asyncio.Event()
        self._js: JetStreamContext | None = None
        self._js_client: object = None

    async def run(self) -> None:
        js = await self.nats.jetstream()
        while True:
            try:
                await ensure_stream(js, self.schema)
                break
            except Exception as exc:
                log.warning("cannot create stream yet: %s", exc)
                await asyncio.sleep(1)
        backoff = 0.2
        last_purge = 0.0
        while True:
            try:
                while await self.publish_batch() == self.batch_size:
                    pass
                backoff = 0.2
                if time.monotonic() - last_purge > 3600:
                    await self.purge_published()
                    last_purge = time.monotonic()
            except (
                Exception
            ) as exc:  # NATS or the database away: retry well inside the dedupe window
                log.warning("outbox relay paused: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()

    def wake(self) -> None:
        """Publish now: rows were just committed."""
        self._wake.set()

    async def _context(self) -> JetStreamContext:
        """One JetStream context per NATS client: its async-publish reply subscription is made
        once, not per batch."""
        client = await self.nats.ready()
        if self._js is None or self._js_client is not client:
            self._js, self._js_client = client.jetstream(), client
        return self._js

    async def publish_batch(self) -> int:
        """Publishes a batch in seq order without waiting for each ack before sending the next
        (publish_async), then collects the acks in order; a row counts as sent once its ack
        arrived. A missing ack stops the batch there: that row and the later ones wait for the
        next try, republished with the same ids (JetStream drops the duplicates).

        The batch yields to the event loop only at its SQL and once for all its acks: the relay
        shares the loop with the process's RPCs, and each yield waits behind all of them, so a
        yield per row (a stall timer per publish, a wait per ack) made a busy service publish
        its outbox more slowly than it wrote it."""
        js = await self._context()
        published: list[int] = []
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(self.table)
                    .where(self.table.c.published_at.is_(None))
                    .order_by(self.table.c.seq)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            failure: Exception | None = None
            acks: list[tuple[int, asyncio.Future[PubAck]]] = []
            try:
                for row in rows:
                    headers = {
                        "Nats-Msg-Id": str(row.id),
                        "Plixa-Event-Id": str(row.id),
                    }
                    if row.tenant_id is not None:
                        headers["Plixa-Tenant-Id"] = str(row.tenant_id)
                    # No stall timer (it costs a task and a loop turn per row): a batch never
                    # exceeds the context's pending budget (4,000 publishes), and every ack of
                    # the previous batch is settled or cancelled, so the budget never blocks.
                    ack = await js.publish_async(row.subject, row.payload, headers=headers)
                    acks.append((row.seq, ack))
                if acks:
                    await asyncio.wait([ack for _, ack in acks], timeout=ACK_SECONDS)
                for seq, ack in acks:
                    if not ack.done():
                        raise TimeoutError(f"no JetStream ack within {ACK_SECONDS} s")
                    ack.result()  # a refused publish raises here
                    published.append(seq)
            except Exception as exc:  # keep what was acked; the rest waits for the next try
                failure = exc
                for _, ack in acks:
                    ack.cancel()  # frees its slot of the client's pending-publish budget
            if published:
                await conn.execute(
                    self._mark_published, {"now": self.clock.now(), "seqs": published}
                )
        if failure is not None:
            raise failure
        return len(published)

    async def purge_published(self, older_than_hours: int = 24) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    f"DELETE FROM {self.schema}.outbox WHERE published_at < now() - "
                    f"make_interval(hours => :hours)"
                ),
                {"hours": older_than_hours},
            )
