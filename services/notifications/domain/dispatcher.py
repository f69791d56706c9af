"""Sends due webhook deliveries: claimed from PostgreSQL (so every replica can help and a crash
loses nothing: a claim is a lease that comes due again), sent with bounded concurrency (a global
limit per process, and a smaller one per endpoint, so one slow receiver never holds the others
back), in event order per endpoint where the concurrency allows, and recorded attempt by attempt.

It claims whenever a slot is free and work may be due: at once when a consumer commits new
deliveries (their transaction sends NOTIFY notifications_deliveries; this process LISTENs on a
connection of its own, so every replica wakes and none polls for new rows), when an attempt
ends, and every `poll_seconds` for retries coming due and leases run out. Outcomes are written
in batches: everything that finished while the previous batch was being committed, one
statement for a run of successes.

After a failed attempt the next one follows the retry schedule (Svix-like, ±10 % jitter); when
the schedule is spent the delivery is `failed`. A 410 Gone disables the endpoint at once; an
endpoint whose deliveries have all failed for `disable_after` is disabled and its owners are
emailed."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kit.clock import Clock
from services.kit.crypto import SecretBox
from services.notifications.domain import signing
from services.notifications.domain.outbound import Outcome, Sender
from services.notifications.domain.webhooks import signing_secrets
from services.notifications.store import webhooks as store
from services.notifications.store.webhooks import Claimed, EndpointChanges

log = logging.getLogger("plixa.notifications.dispatcher")
CHANNEL = store.DELIVERIES_CHANNEL  # NOTIFY'd by the transactions that add deliveries

# Called in the transaction that disables an endpoint: tell its owners (email).
Result = tuple[Claimed, datetime, Outcome]
OnDisabled = Callable[[AsyncConnection, store.EndpointRow, str], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        box: SecretBox,
        sender: Sender,
        *,
        schedule: tuple[float, ...],
        concurrency: int,
        per_endpoint: int,
        lease_seconds: float,
        disable_after_seconds: float,
        poll_seconds: float = 1.0,
        on_disabled: OnDisabled | None = None,
    ) -> None:
        self.engine = engine
        # Single statements (claims, a batch of successes) need no BEGIN and COMMIT.
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.clock = clock
        self.box = box
        self.sender = sender
        self.schedule = schedule
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint
        self.lease = timedelta(seconds=lease_seconds)
        self.disable_after = timedelta(seconds=disable_after_seconds)
        self.poll_seconds = poll_seconds
        self.on_disabled = on_disabled
        self.in_flight: dict[int, int] = defaultdict(int)  # endpoint -> attempts running here
        self.tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        # Opened signing secrets by sealed value (a rotation seals a new one): Fernet costs
        # more than the signatures themselves.
        self._open_secret = functools.lru_cache(maxsize=1024)(box.open)
        self._results: list[tuple[Result, asyncio.Future[None]]] = []
        self._results_ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        return len(self.tasks)

    async def run(self) -> None:
        """Dispatches until cancelled (the periodic job starts it again after a crash)."""
        self._start_writer()
        listener = asyncio.create_task(self._listen(), name="webhook-listen")
        try:
            while True:
                self._wake.clear()  # before claiming: a wake from now on means look again
                await self.fill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    def wake(self) -> None:
        """Claim now: deliveries were committed, or a slot is free."""
        self._wake.set()

    async def fill(self) -> int:
        """Claims and starts due attempts while there are free slots and due work; returns how
        many it started. Attempts go on after it returns."""
        self._start_writer()
        started = 0
        while (free := self.concurrency - self.running) > 0:
            claimed = await self.claim(free)
            for item in claimed:
                self.in_flight[item.endpoint_id] += 1
                task = asyncio.create_task(self.attempt(item))
                self.tasks.add(task)
                task.add_done_callback(self._done)
            started += len(claimed)
            if len(claimed) < free:
                break  # nothing more is due (or its endpoints are busy)
        return started

    async def _listen(self) -> None:
        """LISTENs for committed deliveries on a connection outside the pool (it is held for
        good; the pool's connections serve claims and writes)."""
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                conn = await asyncpg.connect(url)
                try:
                    await conn.add_listener(CHANNEL, lambda *_: self.wake())
                    self.wake()  # anything committed while nobody listened
                    while not conn.is_closed():  # noqa: ASYNC110
                        await asyncio.sleep(5)
                finally:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN %s lost (polling meanwhile): %s", CHANNEL, exc)
                await asyncio.sleep(1)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery attempt crashed", exc_info=task.exception())

    async def claim(self, limit: int) -> list[Claimed]:
        now = self.clock.now()
        async with self.autocommit.connect() as conn:
            return await store.claim_due(
                conn,
                now=now,
                lease=now + self.lease,
                limit=limit,
                per=self.per_endpoint,
                busy=dict(self.in_flight),
            )

    async def drain(self, timeout: float) -> None:
        """Waits for the attempts in flight (tests, shutdown)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)

    async def attempt(self, item: Claimed) -> None:
        try:
            if item.endpoint_status != "active":
                async with self.engine.begin() as conn:
                    await store.finish_attempt(
                        conn,
                        item.id,
                        status="failed",
                        next_attempt_at=None,
                        last_error="endpoint disabled",
                    )
                return
            started_at = self.clock.now()
            keys = signing_secrets(
                self._open_secret,
                item.secret_sealed,
                item.previous_secret_sealed,
                item.previous_secret_expires_at,
                started_at,
            )
            body = item.payload.encode()
            headers = signing.headers(keys, item.event_id, int(time.time()), body)
            outcome = await self.sender.post(item.url, body, headers)
            await self._write((item, started_at, outcome))
        finally:
            self.in_flight[item.endpoint_id] -= 1
            if self.in_flight[item.endpoint_id] <= 0:
                del self.in_flight[item.endpoint_id]
            # Claim again once half the endpoint's share is free: one claim for several
            # deliveries rather than one per ended attempt.
            if self.in_flight.get(item.endpoint_id, 0) <= self.per_endpoint // 2:
                self.wake()

    def next_delay(self, attempts: int) -> float | None:
        """Seconds until the next try after `attempts` failed ones; None when spent."""
        if attempts > len(self.schedule):
            return None
        return self.schedule[attempts - 1] * random.uniform(0.9, 1.1)

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_results(), name="webhook-results")

    async def _write(self, result: Result) -> None:
        """Queues an attempt's outcome for the writer and waits until it is committed (the
        attempt keeps its endpoint's slot until then, so its next try cannot overtake it)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append((result, done))
        self._results_ready.set()
        await done

    async def _write_results(self) -> None:
        """Commits outcomes in batches: one transaction for everything finished meanwhile."""
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            batch, self._results = self._results, []
            if not batch:
                continue
            results = [result for result, _ in batch]
            try:
                if all(outcome.ok for _, _, outcome in results):  # one statement
                    async with self.autocommit.connect() as conn:
                        await self._record_successes(conn, results)
                else:
                    async with self.engine.begin() as conn:
                        await self.record_batch(conn, results)
            except Exception as exc:
                log.warning("could not record %d attempts: %s", len(batch), exc)
                for _, done in batch:  # their leases bring them back
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def record_batch(self, conn: AsyncConnection, results: list[Result]) -> None:
        """Records outcomes in the order they finished: each run of successes with one
        statement, any other outcome on its own (it may change its endpoint)."""
        successes: list[Result] = []
        for result in results:
            if result[2].ok:
                successes.append(result)
                continue
            await self._record_successes(conn, successes)
            successes = []
            await self.record(conn, *result)
        await self._record_successes(conn, successes)

    async def _record_successes(self, conn: AsyncConnection, results: list[Result]) -> None:
        if results:
            await store.record_successes(
                conn,
                [
                    store.Success(
                        delivery_id=item.id,
                        endpoint_id=item.endpoint_id,
                        number=item.attempts + 1,
                        started_at=started_at,
                        status_code=outcome.status_code or 0,
                        latency_ms=outcome.latency_ms,
                        response_body=outcome.body,
                        error=outcome.error,
                    )
                    for item, started_at, outcome in results
                ],
                delivered_at=self.clock.now(),
            )

    async def record(
        self, conn: AsyncConnection, item: Claimed, started_at: datetime, outcome: Outcome
    ) -> None:
        number = item.attempts + 1
        now = self.clock.now()
        await store.record_attempt(
            conn,
            item.id,
            number=number,
            started_at=started_at,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_body=outcome.body,
            error=outcome.error,
            succeeded=outcome.ok,
        )
        common = {
            "attempts": number,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.ok:
            await store.finish_attempt(
                conn,
                item.id,
                status="succeeded",
                next_attempt_at=None,
                delivered_at=now,
                **common,
            )
            await store.clear_failing(conn, item.endpoint_id)
            return
        if outcome.status_code == 410:
            await store.finish_attempt(
                conn, item.id, status="failed", next_attempt_at=None, **common
            )
            await self.disable(conn, item.endpoint_id, "gone", now)
            return
        delay = self.next_delay(number)
        if delay is None:
            await store.finish_attempt(
                conn, item.id, status="failed", next_attempt_at=None, **common
            )
        else:
            await store.finish_attempt(
                conn, item.id, next_attempt_at=now + timedelta(seconds=delay), **common
            )
        endpoint = await store.endpoint_by_id(conn, item.endpoint_id)
        if endpoint is None or endpoint.status != "active":
            return
        if endpoint.failing_since is None:
            await store.set_endpoint(conn, endpoint.id, EndpointChanges(failing_since=now))
        elif now - endpoint.failing_since >= self.disable_after:
            await self.disable(conn, endpoint.id, "failing", now)

    async def disable(
        self, conn: AsyncConnection, endpoint_id: int, reason: str, now: datetime
    ) -> None:
        endpoint = await store.endpoint_by_id(conn, endpoint_id)
        if endpoint is None or endpoint.status != "active":
            return
        await store.set_endpoint(
            conn,
            endpoint_id,
            EndpointChanges(
                status="disabled", disabled_reason=reason, disabled_at=now, updated_at=now
            ),
        )
        await store.fail_pending(conn, endpoint_id, "endpoint disabled")
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
        if self.on_disabled is not None:
            await self.on_disabled(conn, endpoint, reason)
