"""What authenticates a number's webhooks (its id, tenant and secret hash), kept in memory so a
customer's message does not read its number's row first.

Safe to keep: those three never change for an instance name (the secret is set when the number
is created; there is no rotation), and a number only goes away. Its deletion here forgets the
entry at once; a deletion elsewhere (another replica, a workspace's erasure) makes the next
write that names the number fail on its foreign key, and the webhook is then authenticated
again from the database (services/inbox/domain/inbound.py). Only known numbers are kept, for
`ttl_seconds` at most, up to `size` of them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebhookKey:
    instance_id: int
    tenant_id: int
    secret_hash: str


class WebhookKeys:
    def __init__(
        self,
        ttl_seconds: float = 60.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.size = size
        self._clock = clock
        self._entries: dict[str, tuple[WebhookKey, float]] = {}

    def get(self, instance_name: str) -> WebhookKey | None:
        entry = self._entries.get(instance_name)
        if entry is None:
            return None
        if self._clock() >= entry[1]:
            del self._entries[instance_name]
            return None
        return entry[0]

    def put(self, instance_name: str, key: WebhookKey) -> None:
        self._entries.pop(instance_name, None)
        while len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]  # the oldest entry
        self._entries[instance_name] = (key, self._clock() + self.ttl_seconds)

    def forget(self, instance_name: str) -> None:
        self._entries.pop(instance_name, None)
