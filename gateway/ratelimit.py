"""Fixed-window rate limits shared by every gateway replica, kept in a NATS JetStream KV bucket
and incremented with compare-and-set, so the limit holds however many gateways run."""

from __future__ import annotations

import logging
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
MAX_CAS_TRIES = 8
UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_-]")


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
        kv = await self._bucket()
        for _ in range(MAX_CAS_TRIES):
            try:
                entry = await kv.get(key)
                count, revision = int(entry.value or b"0"), entry.revision
            except (KeyNotFoundError, KeyDeletedError):
                count, revision = 0, None
            if count >= limit.requests:
                return Decision(False, limit.requests, 0, reset)
            try:
                if revision is None:
                    await kv.create(key, b"1")
                else:
                    await kv.update(key, str(count + 1).encode(), last=revision)
            except (KeyWrongLastSequenceError, BadRequestError):
                continue  # another request won the race: re-read and retry
            return Decision(True, limit.requests, limit.requests - count - 1, reset)
        log.warning("rate limit contention on %s: letting the request through", key)
        return Decision(True, limit.requests, 0, reset)
