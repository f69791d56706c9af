"""The OnboardingChecklist servicer."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import onboarding_pb2, onboarding_pb2_grpc
from services.identity.clients.onboarding import OnboardingClient
from services.identity.domain import onboarding
from services.kit.db import Database
from services.kit.principal import current_principal
from services.kit.protos import to_proto


def checklist_to_proto(checklist: onboarding.Checklist) -> onboarding_pb2.Onboarding:
    return to_proto(checklist, onboarding_pb2.Onboarding, total=len(checklist.steps))


class OnboardingApi(onboarding_pb2_grpc.OnboardingChecklistServicer):
    def __init__(self, db: Database, client: OnboardingClient) -> None:
        self.db = db
        self.client = client

    async def _current(self, tenant_id: int) -> onboarding_pb2.Onboarding:
        remote = await self.client.progress(tenant_id)  # no transaction held while asking
        async with self.db.unit_of_work() as uow:
            return checklist_to_proto(await onboarding.checklist(uow, remote))

    async def GetOnboarding(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> onboarding_pb2.Onboarding:
        return await self._current(current_principal().tenant_id)

    async def DismissOnboarding(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> onboarding_pb2.Onboarding:
        principal = current_principal()
        async with self.db.unit_of_work() as uow:
            await onboarding.dismiss(uow)
        return await self._current(principal.tenant_id)
