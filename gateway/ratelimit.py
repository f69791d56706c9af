"""Fixed-window rate limits shared by every gateway replica, kept in a NATS JetStream KV bucket
and incremented with compare-and-set, so the limit holds however many gateways run.

A replica may reserve a few tokens per write while much of the budget is left (at most a tenth
of it): reserved tokens count as used for every replica, so the limit still holds; near the
limit every request is one compare-and-set."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from dataclasses import dataclass

from nats.js.errors import (
    BadRequestError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from gateway.config import Limit
from services.kit.messaging import NatsLink

log = logging.getLogger("plixa.gateway.ratelimit")
BUCKET = "plixa_rate_limits"
# Replicas racing for one key near its limit (every request a compare-and-set) lose about half
# their tries; at 32, failing open by contention is about a 1-in-4-billion event per refill.
MAX_CAS_TRIES = 32
CONFLICT_JITTER_SECONDS = 0.001  # a lost race waits up to this (times the tries) before re-reading
MAX_BATCH = 20  # at most this many tokens reserved per round trip
BATCH_SHARE = 10  # and at most a tenth of what is left in the window
UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class _Slot:
    count: int  # the shared count after this replica's last write (reserved tokens included)
    revision: int | None
    spare: int = 0  # tokens reserved by this replica and not used yet


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


class RateLimiter:
    def __init__(self, nats: NatsLink, limits: dict[str, Limit]) -> None:
        self.nats = nats
        self.limits = limits
        self._kv: KeyValue | None = None
        # What this replica last wrote per key: the next request tries its compare-and-set
        # straight away (one round trip) and re-reads only when it lost a race.
        self._known: dict[str, _Slot] = {}
        # One refill per key at a time in this replica (see hit()).
        self._refills: dict[str, asyncio.Lock] = {}

    def _remember(self, key: str, slot: _Slot) -> None:
        if len(self._known) > 50_000:
            self._known.clear()  # old windows' keys; bounded memory
            self._refills.clear()
        self._known[key] = slot

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            js = await self.nats.jetstream()
            longest = max(limit.window_seconds for limit in self.limits.values())
            try:
                self._kv = await js.key_value(BUCKET)
            except Exception:
                # Keys outlive their window a little, then the bucket's TTL removes them.
                self._kv = await js.create_key_value(bucket=BUCKET, history=1, ttl=longest * 2)
        return self._kv

    def limit_for(self, route_class: str) -> Limit:
        return self.limits.get(route_class) or self.limits["default"]

    async def hit(self, route_class: str, subject: str, now: float | None = None) -> Decision:
        """Counts one request of `subject` (a tenant or a client address) in its class."""
        limit = self.limit_for(route_class)
        now = time.time() if now is None else now
        window = int(now // limit.window_seconds)
        reset = max(1, int((window + 1) * limit.window_seconds - now))
        key = f"{route_class}.{UNSAFE_KEY_CHARS.sub('-', subject)}.{window}"
        if not self.nats.client or not self.nats.client.is_connected:
            # Fail open: a NATS outage must not take the API down with it.
            return Decision(True, limit.requests, limit.requests, reset)
        slot = self._known.get(key)
        if slot is not None and slot.spare > 0:  # a token this replica reserved earlier
            slot.spare -= 1
            return Decision(True, limit.requests, limit.requests - slot.count + slot.spare, reset)
        # Requests that find the reserve empty together would all race one compare-and-set and
        # all but one re-read and retry (a round trip or two each). Instead one refills and the
        # others wait for it, then take from what it reserved.
        refill = self._refills.get(key)
        if refill is None:
            refill = self._refills[key] = asyncio.Lock()
        async with refill:
            slot = self._known.get(key)
            if slot is not None and slot.spare > 0:
                slot.spare -= 1
                remaining = limit.requests - slot.count + slot.spare
                return Decision(True, limit.requests, remaining, reset)
            return await self._count(key, limit, slot, reset)

    async def _count(self, key: str, limit: Limit, slot: _Slot | None, reset: int) -> Decision:
        """Counts one request in the shared count (reserving a few more while the budget is
        large), by compare-and-set from what this replica knows, re-reading when it is stale."""
        kv = await self._bucket()
        for attempt in range(MAX_CAS_TRIES):
            if slot is None:
                try:
                    entry = await kv.get(key)
                    slot = _Slot(int(entry.value or b"0"), entry.revision)
                except (KeyNotFoundError, KeyDeletedError):
                    slot = _Slot(0, None)
            count = slot.count
            if count >= limit.requests:  # counts only grow within a window: no need to re-read
                return Decision(False, limit.requests, 0, reset)
            # Reserve a few tokens at once while the budget is large, so most requests need no
            # round trip; near the limit each request takes exactly one.
            batch = max(1, min(MAX_BATCH, (limit.requests - count) // BATCH_SHARE))
            try:
                value = str(count + batch).encode()
                if slot.revision is None:
                    revision = await kv.create(key, value)
                else:
                    revision = await kv.update(key, value, last=slot.revision)
            except (KeyWrongLastSequenceError, BadRequestError):
                slot = None  # another replica counted meanwhile: re-read and retry, out of step
                await asyncio.sleep(random.uniform(0, CONFLICT_JITTER_SECONDS * (attempt + 1)))
                continue
            self._remember(key, _Slot(count + batch, revision, spare=batch - 1))
            return Decision(True, limit.requests, limit.requests - count - 1, reset)
        log.warning("rate limit contention on %s: letting the request through", key)
        return Decision(True, limit.requests, 0, reset)


AUTH_FAILURE = "auth_failure"


class AuthFailures:
    """Requests refused for a bad bearer token, counted per client address in the shared
    `auth_failure` class. Once an address is over the limit this replica remembers it until the
    window ends, so the next bad tokens get 429 without a round trip and without asking identity
    (another replica learns it at its own next failure, so each asks identity at most once more)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self._blocked: dict[str, tuple[float, Decision]] = {}

    def blocked(self, subject: str) -> Decision | None:
        """The refusal in force for `subject`, if any."""
        entry = self._blocked.get(subject)
        if entry is None:
            return None
        until, decision = entry
        now = time.monotonic()
        if until <= now:
            del self._blocked[subject]
            return None
        return Decision(False, decision.limit, 0, max(1, int(until - now)))

    async def record(self, subject: str) -> Decision:
        """Counts one failure; a refused Decision once the address is over its limit."""
        decision = await self.limiter.hit(AUTH_FAILURE, subject)
        if not decision.allowed:
            if len(self._blocked) > 50_000:
                self._blocked.clear()  # bounded memory; the shared count still holds
            self._blocked[subject] = (time.monotonic() + decision.reset_seconds, decision)
        return decision
