"""gRPC calls to the services: one channel per service, reused; failures become GatewayErrors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf.message import Message

from gateway.errors import GatewayError
from plixa.common.v1 import health_pb2, health_pb2_grpc
from plixa.common.v1.principal_pb2 import Principal
from services.kit.errors import detail_from_status
from services.kit.interceptors import REQUEST_ID_KEY
from services.kit.principal import sign

Metadata = Sequence[tuple[str, str | bytes]]
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 32 * 1024 * 1024),
    ("grpc.max_send_message_length", 32 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    # A restarted service is used again within ~2 s instead of gRPC's default 120 s backoff cap.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


class Upstreams:
    def __init__(self, addresses: dict[str, str], secret: bytes) -> None:
        self.addresses = addresses
        self.secret = secret
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._callables: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            self._channels[service] = grpc.aio.insecure_channel(
                self.addresses[service], options=CHANNEL_OPTIONS
            )
        return self._channels[service]

    def _callable(
        self, service: str, full_method: str, response_class: type[Message]
    ) -> grpc.aio.UnaryUnaryMultiCallable:
        key = f"{service}{full_method}"
        if key not in self._callables:
            self._callables[key] = self.channel(service).unary_unary(
                full_method,
                request_serializer=lambda message: message.SerializeToString(),
                response_deserializer=response_class.FromString,
            )
        return self._callables[key]

    async def call(
        self,
        service: str,
        full_method: str,
        request: Message,
        response_class: type[Message],
        *,
        timeout: float,
        principal: Principal | None = None,
        request_id: str = "",
    ) -> tuple[Any, Metadata]:
        """The response and the trailing metadata; a failed call raises GatewayError."""
        metadata: list[tuple[str, str | bytes]] = [(REQUEST_ID_KEY, request_id)]
        if principal is not None:
            principal.request_id = request_id
            metadata += sign(principal, self.secret)
        call = self._callable(service, full_method, response_class)(
            request, timeout=timeout, metadata=metadata
        )
        try:
            response = await call
            trailing = await call.trailing_metadata()
        except grpc.aio.AioRpcError as error:
            detail = detail_from_status(error.code(), error.details(), error.trailing_metadata())
            raise GatewayError.from_detail(detail) from None
        return response, tuple(trailing or ())

    async def health(self, service: str, timeout: float = 1.0) -> str:
        stub = health_pb2_grpc.HealthStub(self.channel(service))
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.aio.AioRpcError:
            return "unreachable"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status).lower()

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
