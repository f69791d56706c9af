"""gRPC calls to the services through the kit's client (one channel per service, reused, signed
principals); a failure becomes the GatewayError that renders what the service said."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.message import Message

from gateway.errors import GatewayError
from plixa.common.v1 import health_pb2, health_pb2_grpc
from plixa.common.v1.principal_pb2 import Principal
from services.kit.client import Metadata, ServiceClient
from services.kit.errors import detail_from_status

__all__ = ["Metadata", "Upstreams"]


class Upstreams:
    def __init__(self, addresses: dict[str, str], secret: bytes) -> None:
        self.addresses = addresses
        self.client = ServiceClient(secret, addresses.__getitem__)

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
        """The response and the trailing metadata (cache invalidations); a failed call raises
        GatewayError with the service's own status and code."""
        try:
            return await self.client.invoke(
                service,
                full_method,
                request,
                response_class,
                principal=principal,
                timeout=timeout,
                request_id=request_id,
            )
        except grpc.aio.AioRpcError as error:
            detail = detail_from_status(error.code(), error.details(), error.trailing_metadata())
            raise GatewayError.from_detail(detail) from None

    async def health(self, service: str, timeout: float = 1.0) -> str:
        stub = health_pb2_grpc.HealthStub(self.client.channel(service))
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.aio.AioRpcError:
            return "unreachable"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status).lower()

    async def close(self) -> None:
        await self.client.close()
