"""Asks the services that own onboarding steps how far a workspace got (gRPC, internal).

A service that has no such RPC yet (UNIMPLEMENTED) owns steps that are simply not done. A service
that is away, too slow or failing is a different thing: its steps cannot be told, so the
checklist is not made up; the failure goes up (503 with Retry-After for an unavailable service
or a timeout, the service's own error otherwise) and the caller retries."""

from __future__ import annotations

import asyncio

from plixa.common.v1 import onboarding_pb2
from services.kit.client import ServiceClient, Unimplemented
from services.kit.principal import service_principal

PROGRESS = "/plixa.common.v1.OnboardingProgress/GetOnboardingProgress"


class OnboardingClient:
    def __init__(self, services: tuple[str, ...], secret: bytes, timeout: float = 1.0) -> None:
        self.services = services
        self.timeout = timeout
        self.client = ServiceClient(secret)

    async def _ask(self, service: str, tenant_id: int) -> dict[str, bool]:
        try:
            reply = await self.client.call(
                service,
                PROGRESS,
                onboarding_pb2.OnboardingProgressRequest(tenant_id=tenant_id),
                onboarding_pb2.OnboardingProgressReply,
                principal=service_principal("identity", tenant_id),
                timeout=self.timeout,
            )
        except Unimplemented:
            return {}  # not built yet: its steps are not done, never invented
        return dict(reply.steps)

    async def progress(self, tenant_id: int) -> dict[str, dict[str, bool]]:
        answers = await asyncio.gather(*(self._ask(s, tenant_id) for s in self.services))
        return dict(zip(self.services, answers, strict=True))
