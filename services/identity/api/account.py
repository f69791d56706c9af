"""The Account servicer: deletion requests (jobs/deletion.py carries them out)."""

from __future__ import annotations

from datetime import timedelta

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import account_pb2, account_pb2_grpc
from plixa.identity.v1.account_pb2 import AccountDeletion
from services.identity.domain import deletion
from services.identity.domain.password_gate import PasswordGate
from services.kit.db import Database
from services.kit.protos import to_proto


class AccountApi(account_pb2_grpc.AccountServicer):
    def __init__(self, db: Database, gate: PasswordGate, grace: timedelta) -> None:
        self.db = db
        self.gate = gate
        self.grace = grace

    async def GetAccountDeletion(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> account_pb2.AccountDeletion:
        return to_proto(deletion.state_of(await self.gate.current_user()), AccountDeletion)

    async def RequestAccountDeletion(
        self,
        request: account_pb2.RequestAccountDeletionRequest,
        context: grpc.aio.ServicerContext,
    ) -> account_pb2.AccountDeletion:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            return to_proto(await deletion.request(uow, user, self.grace), AccountDeletion)

    async def CancelAccountDeletion(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> account_pb2.AccountDeletion:
        user = await self.gate.current_user()
        async with self.db.unit_of_work() as uow:
            return to_proto(await deletion.cancel(uow, user), AccountDeletion)
