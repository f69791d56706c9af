"""The transactional outbox: events are rows written in the business transaction; a relay
publishes them to JetStream with Nats-Msg-Id = event id and marks them sent only after the ack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import cache

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


def outbox_channel(schema: str) -> str:
    return f"{schema}_outbox"


class OutboxRelay:
    """Publishes unsent outbox rows, woken by NOTIFY with a polling fallback.

    Safe with several replicas: rows are claimed with FOR UPDATE SKIP LOCKED. A publish that
    fails leaves its row unsent; the retry reuses the event id, so JetStream drops a duplicate."""

    def __init__(
        self,
        engine: AsyncEngine,
        schema: str,
        nats: NatsLink,
        clock: Clock,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.nats = nats
        self.clock = clock
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.table = outbox_table(schema)
        self._wake = asyncio.Event()

    async def run(self) -> None:
        js = await self.nats.jetstream()
        while True:
            try:
                await ensure_stream(js, self.schema)
                break
            except Exception as exc:
                log.warning("cannot create stream yet: %s", exc)
                await asyncio.sleep(1)
        listener = asyncio.create_task(self._listen(), name=f"outbox-listen-{self.schema}")
        backoff = 0.2
        last_purge = 0.0
        try:
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
        finally:
            listener.cancel()

    async def _listen(self) -> None:
        """Keeps one connection LISTENing; if it drops, polling still delivers and we reconnect."""
        while True:
            try:
                async with self.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    driver = raw.driver_connection
                    assert driver is not None
                    await driver.add_listener(
                        outbox_channel(self.schema), lambda *_: self._wake.set()
                    )
                    # asyncpg offers no close event to await, so look every few seconds.
                    while not driver.is_closed():  # noqa: ASYNC110
                        await asyncio.sleep(5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox LISTEN lost: %s", exc)
                await asyncio.sleep(1)

    async def publish_batch(self) -> int:
        js = await self.nats.jetstream()
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
            try:
                for row in rows:
                    headers = {
                        "Nats-Msg-Id": str(row.id),
                        "Plixa-Event-Id": str(row.id),
                    }
                    if row.tenant_id is not None:
                        headers["Plixa-Tenant-Id"] = str(row.tenant_id)
                    await js.publish(row.subject, row.payload, timeout=2.0, headers=headers)
                    published.append(row.seq)
            except Exception as exc:  # keep what was acked; the rest waits for the next try
                failure = exc
            if published:
                await conn.execute(
                    self.table.update()
                    .where(self.table.c.seq.in_(published))
                    .values(published_at=self.clock.now())
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
