"""The TwoFactor servicer: set-up, confirmation, recovery codes, and the sign-in challenge."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import identity_pb2, two_factor_pb2, two_factor_pb2_grpc
from services.identity.domain import two_factor
from services.identity.domain.password_gate import PasswordGate
from services.identity.domain.two_factor import FactorKeys
from services.kit.db import Database
from services.kit.protos import optional, to_proto


class TwoFactorApi(two_factor_pb2_grpc.TwoFactorServicer):
    def __init__(self, db: Database, gate: PasswordGate, keys: FactorKeys) -> None:
        self.db = db
        self.gate = gate
        self.keys = keys

    async def GetTwoFactor(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.TwoFactorStatus:
        user = await self.gate.current_user()
        async with self.db.reader() as uow:
            state = await two_factor.status(uow, user)
        return to_proto(state, two_factor_pb2.TwoFactorStatus)

    async def SetupTwoFactor(
        self, request: two_factor_pb2.PasswordConfirmation, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.TwoFactorSetup:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            seed, uri = await two_factor.start_setup(uow, user, self.keys.box)
        return two_factor_pb2.TwoFactorSetup(secret=seed, otpauth_uri=uri)

    async def ConfirmTwoFactor(
        self, request: two_factor_pb2.ConfirmTwoFactorRequest, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.RecoveryCodes:
        user = await self.gate.current_user()
        async with self.db.unit_of_work() as uow:
            codes = await two_factor.confirm(uow, user, request.code, self.keys)
        return two_factor_pb2.RecoveryCodes(recovery_codes=codes)

    async def RegenerateRecoveryCodes(
        self, request: two_factor_pb2.PasswordConfirmation, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.RecoveryCodes:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            codes = await two_factor.regenerate_codes(uow, user, self.keys)
        return two_factor_pb2.RecoveryCodes(recovery_codes=codes)

    async def RevokeRecoveryCode(
        self, request: two_factor_pb2.RevokeRecoveryCodeRequest, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.RemainingRecoveryCodes:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            remaining = await two_factor.revoke_code(uow, user, request.code, self.keys)
        return two_factor_pb2.RemainingRecoveryCodes(remaining=remaining)

    async def DisableTwoFactor(
        self, request: two_factor_pb2.PasswordConfirmation, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            await two_factor.disable(uow, user)
        return empty_pb2.Empty()

    async def CompleteTwoFactorChallenge(
        self, request: two_factor_pb2.TwoFactorChallengeRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.AuthSession:
        session = await two_factor.complete_challenge(
            self.db,
            self.gate,
            self.keys,
            code=optional(request, "code"),
            recovery_code=optional(request, "recovery_code"),
        )
        return to_proto(session, identity_pb2.AuthSession)
