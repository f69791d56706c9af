"""The one outgoing gRPC client: the gateway calls services with it, and services call each other.

One channel per target, reused (and reconnecting quickly after a restart); every call is signed
with the caller's principal and bounded by a deadline; `close()` on shutdown. Failures are told
apart: the callee's own domain error comes back as the same DomainError; "that service has no such
RPC yet" (UNIMPLEMENTED) is `Unimplemented`; a callee that is away or too slow is
`ServiceUnavailable`. `invoke` gives callers that render the raw outcome (the gateway) the
response with its trailing metadata, or the raw `grpc.aio.AioRpcError`."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from plixa.common.v1.principal_pb2 import Principal
from services.kit.config import service_address
from services.kit.errors import (
    ERROR_METADATA_KEY,
    DomainError,
    FieldProblem,
    detail_from_status,
)
from services.kit.interceptors import REQUEST_ID_KEY
from services.kit.logs import request_id_var
from services.kit.principal import sign
from services.kit.tls import GrpcTls, channel_credentials, grpc_tls

Metadata = Sequence[tuple[str, str | bytes]]
ResponseT = TypeVar("ResponseT", bound=Message)
DEFAULT_TIMEOUT_SECONDS = 5.0
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", 32 * 1024 * 1024),
    ("grpc.max_send_message_length", 32 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    # A restarted service is used again within ~2 s instead of gRPC's default 120 s backoff cap.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


class Unimplemented(Exception):
    """The callee has no such RPC (yet): an expected answer, not a failure."""

    def __init__(self, service: str, method: str) -> None:
        super().__init__(f"{service} does not implement {method}")
        self.service = service
        self.method = method


class ServiceUnavailable(DomainError):
    """The callee is away or did not answer in time; a retry may work. Raised through a servicer,
    it answers the caller 503 with Retry-After."""

    def __init__(self, service: str, status: grpc.StatusCode) -> None:
        super().__init__(
            "SERVICE_UNAVAILABLE",
            "The service is unavailable. Try again shortly.",
            503,
            grpc.StatusCode.UNAVAILABLE,
            retry_after_seconds=5,
        )
        self.service = service
        self.status = status


# Every client of the process, so the service's shutdown closes them all (`close_all`).
_open_clients: weakref.WeakSet[ServiceClient] = weakref.WeakSet()

UNAVAILABLE_STATUSES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def failure_of(service: str, method: str, error: grpc.aio.AioRpcError) -> Exception:
    """What a failed call means to the caller."""
    code = error.code()
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return Unimplemented(service, method)
    trailing = error.trailing_metadata() or ()
    has_domain_detail = any(key == ERROR_METADATA_KEY for key, _ in trailing)
    if code in UNAVAILABLE_STATUSES and not has_domain_detail:
        return ServiceUnavailable(service, code)
    detail = detail_from_status(code, error.details(), trailing)
    return DomainError(
        detail.code,
        detail.message,
        detail.http_status,
        code,
        fields=[FieldProblem(f.field, f.message, f.code) for f in detail.fields],
        retry_after_seconds=detail.retry_after_seconds,
    )


class ServiceClient:
    """Calls other services' RPCs by full method name (`/pkg.Service/Method`)."""

    def __init__(
        self,
        secret: bytes,
        address_of: Callable[[str], str] = service_address,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        options: Sequence[tuple[str, int]] = tuple(CHANNEL_OPTIONS),
        tls: GrpcTls | None = None,
    ) -> None:
        """`tls`: how channels are secured; by default the process's settings (services/kit/
        tls.py), plaintext when those name no certificates."""
        self.secret = secret
        self.tls = tls or grpc_tls()
        self.address_of = address_of
        self.timeout = timeout
        self.options = list(options)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._callables: dict[tuple[str, str], grpc.aio.UnaryUnaryMultiCallable] = {}
        _open_clients.add(self)

    def channel(self, service: str) -> grpc.aio.Channel:
        channel = self._channels.get(service)
        if channel is None:
            address = self.address_of(service)
            if self.tls is None:
                channel = grpc.aio.insecure_channel(address, options=self.options)
            else:
                credentials = channel_credentials(self.tls)
                channel = grpc.aio.secure_channel(address, credentials, options=self.options)
            self._channels[service] = channel
        return channel

    def _callable(
        self, service: str, method: str, response_class: type[Message]
    ) -> grpc.aio.UnaryUnaryMultiCallable:
        key = (service, method)
        found = self._callables.get(key)
        if found is None:
            found = self.channel(service).unary_unary(
                method,
                request_serializer=_serialize,
                response_deserializer=response_class.FromString,
            )
            self._callables[key] = found
        return found

    async def invoke(
        self,
        service: str,
        method: str,
        request: Message,
        response_class: type[ResponseT],
        *,
        principal: Principal | None = None,
        timeout: float | None = None,
        request_id: str = "",
    ) -> tuple[ResponseT, Metadata]:
        """The response and its trailing metadata; a failed call raises grpc.aio.AioRpcError."""
        # A service calling on while serving a request passes that request's id along.
        # A call outside any request (a job) gets an id of its own: the signature is bound to it.
        request_id = request_id or request_id_var.get() or os.urandom(8).hex()
        metadata: list[tuple[str, str | bytes]] = [(REQUEST_ID_KEY, request_id)]
        if principal is not None:
            metadata += sign(principal, self.secret, method, request_id)
        call = self._callable(service, method, response_class)(
            request, timeout=timeout or self.timeout, metadata=metadata
        )
        response = await call
        trailing = await call.trailing_metadata()
        return response, tuple(trailing or ())

    async def call(
        self,
        service: str,
        method: str,
        request: Message,
        response_class: type[ResponseT],
        *,
        principal: Principal | None = None,
        timeout: float | None = None,
        request_id: str = "",
    ) -> ResponseT:
        """The response; a failure raises DomainError, ServiceUnavailable or Unimplemented."""
        try:
            response, _ = await self.invoke(
                service,
                method,
                request,
                response_class,
                principal=principal,
                timeout=timeout,
                request_id=request_id,
            )
        except grpc.aio.AioRpcError as error:
            raise failure_of(service, method, error) from None
        return response

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        self._callables.clear()
        for channel in channels:
            await channel.close()


async def close_all() -> None:
    """Closes every client's channels (the kit's ServiceApp does this on shutdown)."""
    for client in list(_open_clients):
        await client.close()


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()
