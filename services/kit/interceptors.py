"""The one server interceptor every service runs. For each call it: logs the outcome with the
request id and tenant, verifies the signed principal, enforces the RPC's declared access rule
(services/kit/access.py), bounds a call that came without a deadline by a default one (gRPC
cancels the handler at a caller's own deadline), maps domain errors (and anything unexpected)
to a gRPC status, and answers a successful call with the cache invalidations its committed
events imply (services/kit/invalidation.py).

The wrapped handler of each method is built once, on its first call, and reused: the per-call
work is only what depends on the call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from sqlalchemy.exc import DBAPIError

from services.kit.access import MethodAccess, method_access
from services.kit.db import ConnectionLost
from services.kit.errors import ERROR_METADATA_KEY, DomainError
from services.kit.invalidation import collect_committed, invalidation_trailers, stop_collecting
from services.kit.logs import request_id_var, tenant_id_var
from services.kit.principal import (
    PrincipalVerifier,
    reset_current_principal,
    set_current_principal,
)
from services.kit.staff_audit import enter as enter_impersonated_call
from services.kit.staff_audit import is_mutation
from services.kit.staff_audit import leave as leave_impersonated_call

log = logging.getLogger("plixa.rpc")
UnaryBehavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]
REQUEST_ID_KEY = "x-request-id"
DEFAULT_DEADLINE_SECONDS = 30.0


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every unary-unary and unary-stream handler, once per method."""

    def __init__(
        self, secret: bytes, default_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    ) -> None:
        self.verifier = PrincipalVerifier(secret)
        self.default_deadline_seconds = default_deadline_seconds
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        cached = self._handlers.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is not None and handler.unary_stream is not None:
            streamed = grpc.unary_stream_rpc_method_handler(
                self.wrap_stream(handler.unary_stream, method_access(method)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
            self._handlers[method] = streamed
            return streamed
        if handler is None or handler.unary_unary is None:
            return handler  # unknown methods stay UNIMPLEMENTED (and are not cached)
        wrapped = grpc.unary_unary_rpc_method_handler(
            self.wrap(handler.unary_unary, method_access(method)),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._handlers[method] = wrapped
        return wrapped

    def wrap(self, behavior: UnaryBehavior, access: MethodAccess) -> UnaryBehavior:
        method = access.method
        verifier = self.verifier
        default_deadline = self.default_deadline_seconds
        mutation = is_mutation(access)

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            # The outcome line is built only when INFO is on (the level is fixed at start-up;
            # logging caches the check).
            logged = log.isEnabledFor(logging.INFO)
            started = time.perf_counter() if logged else 0.0
            outcome = "OK"
            metadata = dict(context.invocation_metadata() or ())
            request_id = str(metadata.get(REQUEST_ID_KEY, ""))
            request_token = request_id_var.set(request_id)
            tenant_token = tenant_id_var.set(0)
            try:
                try:
                    principal = verifier.verify(metadata, method, request_id)
                    tenant_id_var.set(principal.tenant_id)
                    refused = access.refusal(principal)
                    if refused is not None:
                        raise refused
                    principal_token = set_current_principal(principal)
                    # An impersonation token's change is audited in its own transaction.
                    audit_token = (
                        enter_impersonated_call(access, request)
                        if mutation and principal.impersonator_staff_id
                        else None
                    )
                    committed, commits_token = collect_committed()
                    try:
                        if context.time_remaining() is not None:
                            # gRPC itself cancels the handler at the caller's deadline.
                            response = await behavior(request, context)
                        else:
                            try:
                                async with asyncio.timeout(default_deadline):  # no extra task
                                    response = await behavior(request, context)
                            except TimeoutError:
                                await context.abort(
                                    grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"
                                )
                    finally:
                        stop_collecting(commits_token)
                        reset_current_principal(principal_token)
                        if audit_token is not None:
                            leave_impersonated_call(audit_token)
                    # The gateway's cached principals that the committed events made stale.
                    if committed and (trailers := invalidation_trailers(committed)):
                        context.set_trailing_metadata(trailers)
                    return response
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
                    # The database went away (a restart, a failover): the pool has been reset,
                    # so a retry will work; tell the caller to retry rather than that we failed.
                    log.warning("database connection lost in %s", method)
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable")
                except ConnectionLost:  # the same, on the fast reader's pool
                    log.warning("database connection lost in %s", method)
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable")
                except Exception:
                    log.exception("unhandled error in %s", method)
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            except grpc.aio.AbortError:
                outcome = str(context.code() or "ABORTED")
                raise
            except asyncio.CancelledError:
                outcome = "CANCELLED"  # the caller's deadline passed, or it went away
                raise
            finally:
                if logged:
                    log.info(
                        "rpc",
                        extra={
                            "method": method,
                            "outcome": outcome,
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        },
                    )
                tenant_id_var.reset(tenant_token)
                request_id_var.reset(request_token)

        return call

    def wrap_stream(self, behavior: StreamBehavior, access: MethodAccess) -> StreamBehavior:
        """A server-streaming RPC (the gateway's server-sent events): the same principal check
        and access rule as a unary call, once, when the stream opens; domain errors raised
        before or while streaming end it with their status. No default deadline: a stream lasts
        as long as its caller wants."""
        method = access.method
        verifier = self.verifier

        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            metadata = dict(context.invocation_metadata() or ())
            request_id = str(metadata.get(REQUEST_ID_KEY, ""))
            request_id_var.set(request_id)
            started = time.perf_counter()
            outcome = "OK"
            try:
                try:
                    principal = verifier.verify(metadata, method, request_id)
                    tenant_id_var.set(principal.tenant_id)
                    refused = access.refusal(principal)
                    if refused is not None:
                        raise refused
                    set_current_principal(principal)
                    # The stream is open: the caller (the gateway) may answer 200 now, before
                    # the first item, which may come much later.
                    await context.send_initial_metadata(())
                    async for item in behavior(request, context):
                        yield item
                except DomainError as error:
                    await context.abort(
                        error.grpc_status,
                        error.message,
                        trailing_metadata=(
                            (ERROR_METADATA_KEY, error.to_detail().SerializeToString()),
                        ),
                    )
            except grpc.aio.AbortError:
                outcome = str(context.code() or "ABORTED")
                raise
            except asyncio.CancelledError:
                outcome = "CANCELLED"  # the caller went away: the usual end of a stream
                raise
            finally:
                log.info(
                    "rpc stream",
                    extra={
                        "method": method,
                        "outcome": outcome,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )

        return call


def standard_interceptors(secret: bytes) -> list[grpc.aio.ServerInterceptor]:
    return [ServiceInterceptor(secret)]
