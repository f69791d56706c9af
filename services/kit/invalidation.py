"""Cache invalidation that follows from the events, not from a call made by hand.

Every unit of work that commits inside an RPC hands its emitted events to the call (a context
variable the interceptor below sets). When the RPC succeeds, the events that make cached
principals stale become `plixa-invalidate-*` trailing metadata, so the gateway that carried the
call drops them at once; other gateway replicas learn the same from the events over NATS. No
servicer sends these by hand, so none can forget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import grpc

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


class CacheInvalidationInterceptor(grpc.aio.ServerInterceptor):
    """Collects what the call's units of work committed; a successful call answers with the
    invalidation trailers those events imply."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behavior = handler.unary_unary

        async def invalidating(request: Any, context: grpc.aio.ServicerContext) -> Any:
            committed: list[PendingEvent] = []
            token = _committed.set(committed)
            try:
                response = await behavior(request, context)
            finally:
                _committed.reset(token)
            if committed and (trailers := invalidation_trailers(committed)):
                context.set_trailing_metadata(trailers)
            return response

        return grpc.unary_unary_rpc_method_handler(
            invalidating,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
