"""Server interceptors every service runs: principal verification, request logging, a deadline
for every call, and the mapping of domain errors (and anything unexpected) to a gRPC status."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from sqlalchemy.exc import DBAPIError

from services.kit.errors import ERROR_METADATA_KEY, DomainError
from services.kit.invalidation import CacheInvalidationInterceptor
from services.kit.logs import request_id_var, tenant_id_var
from services.kit.principal import (
    reset_current_principal,
    set_current_principal,
    verify,
)

log = logging.getLogger("plixa.rpc")
UnaryBehavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Wrapper = Callable[[UnaryBehavior, str], UnaryBehavior]
REQUEST_ID_KEY = "x-request-id"


class _UnaryInterceptor(grpc.aio.ServerInterceptor):
    """Wraps the behaviour of unary-unary handlers (all our RPCs are unary)."""

    def wrap(self, behavior: UnaryBehavior, method: str) -> UnaryBehavior:
        raise NotImplementedError  # each subclass defines its wrapper

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            self.wrap(handler.unary_unary, handler_call_details.method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str | bytes]:
    return {key: value for key, value in (context.invocation_metadata() or ())}


class ErrorInterceptor(_UnaryInterceptor):
    """Domain errors become a status plus `plixa-error-bin`; anything else is INTERNAL, logged."""

    def wrap(self, behavior: UnaryBehavior, method: str) -> UnaryBehavior:
        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await behavior(request, context)
            except DomainError as error:
                await context.abort(
                    error.grpc_status,
                    error.message,
                    trailing_metadata=(
                        (ERROR_METADATA_KEY, error.to_detail().SerializeToString()),
                    ),
                )
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except DBAPIError as error:
                if not error.connection_invalidated:
                    log.exception("database error in %s", method)
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
                # The database went away (a restart, a failover): the pool has been reset, so
                # a retry will work; tell the caller to retry rather than that we failed.
                log.warning("database connection lost in %s", method)
                await context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable")
            except Exception:
                log.exception("unhandled error in %s", method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")

        return guarded


class PrincipalInterceptor(_UnaryInterceptor):
    """Trusts only a principal signed with the internal secret; sets it for the handler."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def wrap(self, behavior: UnaryBehavior, method: str) -> UnaryBehavior:
        async def with_principal(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata = _metadata(context)
            principal = verify(metadata, self.secret)  # DomainError → ErrorInterceptor
            token = set_current_principal(principal)
            tenant_token = tenant_id_var.set(principal.tenant_id)
            try:
                return await behavior(request, context)
            finally:
                tenant_id_var.reset(tenant_token)
                reset_current_principal(token)

        return with_principal


class DeadlineInterceptor(_UnaryInterceptor):
    """Bounds every call by the caller's deadline, or by a default when it set none."""

    def __init__(self, default_seconds: float = 30.0) -> None:
        self.default_seconds = default_seconds

    def wrap(self, behavior: UnaryBehavior, method: str) -> UnaryBehavior:
        async def bounded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            remaining = context.time_remaining()
            budget = self.default_seconds if remaining is None else max(remaining, 0.001)
            try:
                async with asyncio.timeout(budget):  # no extra task per call, unlike wait_for
                    return await behavior(request, context)
            except TimeoutError:
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")

        return bounded


class LoggingInterceptor(_UnaryInterceptor):
    def wrap(self, behavior: UnaryBehavior, method: str) -> UnaryBehavior:
        async def logged(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            outcome = "OK"
            rid_token = request_id_var.set(str(_metadata(context).get(REQUEST_ID_KEY, "")))
            try:
                return await behavior(request, context)
            except grpc.aio.AbortError:
                outcome = str(context.code() or "ABORTED")
                raise
            finally:
                log.info(
                    "rpc",
                    extra={
                        "method": method,
                        "outcome": outcome,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
                request_id_var.reset(rid_token)

        return logged


def standard_interceptors(secret: bytes) -> list[grpc.aio.ServerInterceptor]:
    """Outermost first: logging sees the final outcome; the error mapper also covers a refused
    principal and an exceeded deadline."""
    return [
        LoggingInterceptor(),
        ErrorInterceptor(),
        DeadlineInterceptor(),
        PrincipalInterceptor(secret),
        CacheInvalidationInterceptor(),
    ]
