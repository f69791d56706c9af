"""The live stream's hub: one reader per process follows `live_events` (woken by NOTIFY, with a
polling fallback) and hands each new event to the open streams of its tenant that may see it.

A stream's queue is bounded: a client too slow to keep up is dropped (its stream ends; it
reconnects with Last-Event-ID and resumes from the table), never buffered without bound.
Resuming: the stream registers first (so nothing new is missed), then replays its tenant's events
after Last-Event-ID up to where the hub stood, then goes on live. When Last-Event-ID is older
than the retention window, a `reset` event comes first: the panel reloads its lists."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from plixa.common.v1.principal_pb2 import Principal
from services.kit.clock import Clock
from services.kit.errors import unauthenticated
from services.notifications.store import live as store
from services.notifications.store.live import LIVE_CHANNEL, LiveRow

log = logging.getLogger("plixa.notifications.live")
QUEUE_SIZE = 512
BATCH = 500
STREAM_METHOD = "/plixa.notifications.v1.LiveEvents/StreamEvents"


@dataclass(eq=False)
class Stream:
    principal: Principal
    types: frozenset[str]
    queue: asyncio.Queue[LiveRow | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False

    @property
    def tenant_id(self) -> int:
        return self.principal.tenant_id

    def may_see(self, row: LiveRow, restricted: bool) -> bool:
        if self.types and row.type not in self.types:
            return False
        if restricted and self.principal.role == "agent" and row.conversation_id is not None:
            return None in row.assignees or self.principal.user_id in row.assignees
        return True

    def offer(self, row: LiveRow) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(row)
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        """Ends the stream: the client reconnects and resumes from the table."""
        self.dropped = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class LiveHub:
    def __init__(
        self, engine: AsyncEngine, clock: Clock, retention: timedelta, poll_seconds: float = 1.0
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.retention = retention
        self.poll_seconds = poll_seconds
        self.streams: dict[int, set[Stream]] = defaultdict(set)
        self.cursor = 0
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="live-hub")

    async def _run(self) -> None:
        while True:
            try:
                async with self.engine.connect() as conn:
                    self.cursor = await store.last_seq(conn)
                break
            except Exception as exc:
                log.warning("live hub cannot start yet: %s", exc)
                await asyncio.sleep(1)
        self._ready.set()
        listener = asyncio.create_task(self._listen())
        try:
            while True:
                try:
                    while await self._pump() == BATCH:
                        pass
                except Exception as exc:
                    log.warning("live hub read failed: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                self._wake.clear()
        finally:
            listener.cancel()

    async def _listen(self) -> None:
        while True:
            try:
                async with self.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    driver = raw.driver_connection
                    assert driver is not None
                    await driver.add_listener(LIVE_CHANNEL, lambda *_: self._wake.set())
                    while not driver.is_closed():  # noqa: ASYNC110
                        await asyncio.sleep(5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live hub LISTEN lost: %s", exc)
                await asyncio.sleep(1)

    async def _pump(self) -> int:
        async with self.engine.connect() as conn:
            rows = await store.events_after(conn, self.cursor, BATCH)
            if not rows:
                return 0
            watched = [r.tenant_id for r in rows if self.streams.get(r.tenant_id)]
            restricted = (
                await store.restricted_tenants(conn, sorted(set(watched))) if watched else set()
            )
        for row in rows:
            for stream in list(self.streams.get(row.tenant_id, ())):
                if stream.may_see(row, row.tenant_id in restricted):
                    stream.offer(row)
        self.cursor = rows[-1].seq
        return len(rows)

    async def open(
        self, principal: Principal, last_event_id: str | None, types: list[str]
    ) -> AsyncIterator[LiveRow]:
        """The events a member may see, live, after `last_event_id` when given."""
        if not principal.tenant_id:
            raise unauthenticated()
        self.start()
        await self._ready.wait()
        stream = Stream(principal, frozenset(types))
        self.streams[stream.tenant_id].add(stream)
        up_to = self.cursor
        try:
            if last_event_id:
                async for row in self._replay(stream, _seq_of(last_event_id), up_to):
                    yield row
            while True:
                live = await stream.queue.get()
                if live is None:
                    return
                yield live
        finally:
            tenant_streams = self.streams.get(stream.tenant_id)
            if tenant_streams is not None:
                tenant_streams.discard(stream)
                if not tenant_streams:
                    del self.streams[stream.tenant_id]

    async def _replay(self, stream: Stream, after: int, up_to: int) -> AsyncIterator[LiveRow]:
        async with self.engine.connect() as conn:
            oldest = await store.oldest_seq(conn, stream.tenant_id)
            restricted = bool(await store.restricted_tenants(conn, [stream.tenant_id]))
        if oldest is None or after < oldest - 1:
            yield LiveRow(after, stream.tenant_id, "reset", None, [None], "{}", self.clock.now())
        cursor = after
        while cursor < up_to:
            async with self.engine.connect() as conn:
                rows = await store.tenant_events_after(conn, stream.tenant_id, cursor, up_to, BATCH)
            if not rows:
                break
            for row in rows:
                if stream.may_see(row, restricted):
                    yield row
            cursor = rows[-1].seq

    async def purge(self) -> None:
        async with self.engine.begin() as conn:
            await store.purge(conn, self.clock.now() - self.retention)


def _seq_of(last_event_id: str) -> int:
    try:
        return max(0, int(last_event_id.strip()))
    except ValueError:
        return 0


def ticket_hash(ticket: str) -> bytes:
    return hashlib.sha256(ticket.encode()).digest()


def new_ticket() -> str:
    return "st_" + secrets.token_urlsafe(32)
