"""The fast reader's connection pool (services/kit/db.py `Database.fast_reader`).

asyncpg's own Pool is general: it shields each release in a new task, re-arms an inactivity
timer and wraps every connection in a proxy, about 30 µs of event-loop work per checkout. Fast
reads need less: take an idle connection or open one (up to `size`, else wait in line), give it
back without I/O. A connection is dropped instead of returned when it is closed, still in a
transaction (a bug in the read: never hand an open transaction to the next one), older than
`recycle_seconds`, or opened before `expire()` (a lost connection means the server restarted,
so its siblings are gone too, as SQLAlchemy's pool assumes)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg


class FastPool:
    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        size: int,
        recycle_seconds: float = 1800,
    ) -> None:
        self._connect = connect
        self.size = size
        self._recycle_seconds = recycle_seconds
        self._idle: list[tuple[asyncpg.Connection, float]] = []  # with when each was opened
        self._opened = 0  # connections open, opening or out
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._expired_before = 0.0
        self._closed = False

    async def acquire(self) -> tuple[asyncpg.Connection, float]:
        """A connection and when it was opened (hand both back to `release`)."""
        while True:
            if self._closed:
                raise asyncpg.exceptions.InterfaceError("the fast pool is closed")
            if self._idle:
                conn, opened_at = self._idle.pop()
                if conn.is_closed() or not self._fresh(opened_at):
                    self._drop(conn)
                    continue
                return conn, opened_at
            if self._opened < self.size:
                self._opened += 1
                try:
                    opened_at = time.monotonic()
                    return await self._connect(), opened_at
                except BaseException:
                    self._opened -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken, then cancelled: the turn passes to the next in line
                else:
                    self._waiters.remove(waiter)
                raise

    def release(self, conn: asyncpg.Connection, opened_at: float) -> None:
        if self._closed or conn.is_in_transaction() or not self._fresh(opened_at):
            self._drop(conn)
        elif conn.is_closed():
            self._opened -= 1
            self._wake()
        else:
            self._idle.append((conn, opened_at))
            self._wake()

    def expire(self) -> None:
        """Every connection opened until now is replaced at its next checkout or return."""
        self._expired_before = time.monotonic()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._opened -= 1
            await conn.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)  # they find the pool closed

    def _fresh(self, opened_at: float) -> bool:
        return opened_at > self._expired_before and (
            time.monotonic() - opened_at < self._recycle_seconds
        )

    def _drop(self, conn: asyncpg.Connection) -> None:
        conn.terminate()  # no goodbye round trip: it is closed, broken, or not to be reused
        self._opened -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
