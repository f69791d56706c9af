"""Cache invalidation that follows from the events, not from a call made by hand.

Every unit of work that commits inside an RPC hands its emitted events to the call (a context
variable the kit's interceptor sets, services/kit/interceptors.py). When the RPC succeeds, the
events that make cached principals stale become `plixa-invalidate-*` trailing metadata, so the
gateway that carried the call drops them at once; other gateway replicas learn the same from the
events over NATS. No servicer sends these by hand, so none can forget."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from services.kit.principal import (
    INVALIDATE_TENANT_METADATA_KEY,
    INVALIDATE_TOKEN_METADATA_KEY,
    INVALIDATE_USER_METADATA_KEY,
)

if TYPE_CHECKING:
    from services.kit.db import PendingEvent

# The event kinds (the subject after the service name) that make cached principals stale.
TOKEN_REVOKED = "token.revoked"  # names token_id
ACCESS_CHANGED = "access.changed"  # names user_id, or only tenant_id for the whole workspace

_committed: ContextVar[list[PendingEvent] | None] = ContextVar("committed_events", default=None)


def record_committed(events: Iterable[PendingEvent]) -> None:
    """Called by the unit of work after its commit; outside an RPC (jobs, consumers) a no-op."""
    collected = _committed.get()
    if collected is not None:
        collected.extend(events)


def invalidation_trailers(events: Iterable[PendingEvent]) -> tuple[tuple[str, str], ...]:
    trailers: list[tuple[str, str]] = []
    for event in events:
        kind = event.subject.partition(".")[2]
        message: Any = event.message
        if kind == TOKEN_REVOKED:
            trailers.append((INVALIDATE_TOKEN_METADATA_KEY, str(message.token_id)))
        elif kind == ACCESS_CHANGED:
            if message.user_id:
                trailers.append((INVALIDATE_USER_METADATA_KEY, str(message.user_id)))
            else:
                trailers.append((INVALIDATE_TENANT_METADATA_KEY, str(message.tenant_id)))
    return tuple(dict.fromkeys(trailers))


def collect_committed() -> tuple[list[PendingEvent], Token[list[PendingEvent] | None]]:
    """Starts collecting what this call's units of work commit (the kit's interceptor, per call)."""
    committed: list[PendingEvent] = []
    return committed, _committed.set(committed)


def stop_collecting(token: Token[list[PendingEvent] | None]) -> None:
    _committed.reset(token)
