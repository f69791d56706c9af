"""Asks the services that own onboarding steps how far a workspace got (gRPC, internal)."""

from __future__ import annotations

import asyncio
import logging

import grpc

from plixa.common.v1 import onboarding_pb2, onboarding_pb2_grpc
from services.kit.config import internal_secret, service_address
from services.kit.principal import service_principal, sign

log = logging.getLogger("plixa.identity.onboarding")


class OnboardingClient:
    def __init__(self, services: tuple[str, ...], timeout: float = 1.0) -> None:
        self.timeout = timeout
        self.secret = internal_secret()
        self._stubs = {
            service: onboarding_pb2_grpc.OnboardingProgressStub(
                grpc.aio.insecure_channel(service_address(service))
            )
            for service in services
        }

    async def _ask(self, service: str, tenant_id: int) -> dict[str, bool]:
        try:
            reply = await self._stubs[service].GetOnboardingProgress(
                onboarding_pb2.OnboardingProgressRequest(tenant_id=tenant_id),
                metadata=sign(service_principal("identity", tenant_id), self.secret),
                timeout=self.timeout,
            )
        except grpc.aio.AioRpcError as error:
            # Not built yet (UNIMPLEMENTED) or away: its steps stay "not done", never invented.
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                log.warning("%s did not answer onboarding: %s", service, error.code())
            return {}
        return dict(reply.steps)

    async def progress(self, tenant_id: int) -> dict[str, dict[str, bool]]:
        services = list(self._stubs)
        answers = await asyncio.gather(*(self._ask(s, tenant_id) for s in services))
        return dict(zip(services, answers, strict=True))
