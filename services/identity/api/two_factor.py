"""The TwoFactor servicer: set-up, confirmation, recovery codes, and the sign-in challenge."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import identity_pb2, two_factor_pb2, two_factor_pb2_grpc
from services.identity.api.mapping import session_to_proto
from services.identity.api.support import PasswordGate, send_cache_invalidations
from services.identity.domain import accounts, sessions, two_factor
from services.identity.domain.models import Session
from services.identity.store import accounts as account_store
from services.kit.crypto import SecretBox
from services.kit.db import Database
from services.kit.errors import invalid
from services.kit.protos import optional, stamp


class TwoFactorApi(two_factor_pb2_grpc.TwoFactorServicer):
    def __init__(self, db: Database, gate: PasswordGate, box: SecretBox) -> None:
        self.db = db
        self.gate = gate
        self.box = box

    async def GetTwoFactor(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.TwoFactorStatus:
        user = await self.gate.current_user()
        async with self.db.unit_of_work() as uow:
            state = await two_factor.status(uow, user)
        reply = two_factor_pb2.TwoFactorStatus(
            enabled=state.enabled,
            pending_confirmation=state.pending_confirmation,
            recovery_codes_remaining=state.recovery_codes_remaining,
            enabled_at=stamp(state.enabled_at),
        )
        return reply

    async def SetupTwoFactor(
        self, request: two_factor_pb2.PasswordConfirmation, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.TwoFactorSetup:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            seed, uri = await two_factor.start_setup(uow, user, self.box)
        send_cache_invalidations(context, uow)
        return two_factor_pb2.TwoFactorSetup(secret=seed, otpauth_uri=uri)

    async def ConfirmTwoFactor(
        self, request: two_factor_pb2.ConfirmTwoFactorRequest, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.RecoveryCodes:
        user = await self.gate.current_user()
        async with self.db.unit_of_work() as uow:
            codes = await two_factor.confirm(uow, user, request.code, self.box)
        send_cache_invalidations(context, uow)
        return two_factor_pb2.RecoveryCodes(recovery_codes=codes)

    async def RegenerateRecoveryCodes(
        self, request: two_factor_pb2.PasswordConfirmation, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.RecoveryCodes:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            codes = await two_factor.regenerate_codes(uow, user)
        return two_factor_pb2.RecoveryCodes(recovery_codes=codes)

    async def RevokeRecoveryCode(
        self, request: two_factor_pb2.RevokeRecoveryCodeRequest, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.RemainingRecoveryCodes:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            remaining = await two_factor.revoke_code(uow, user, request.code)
        return two_factor_pb2.RemainingRecoveryCodes(remaining=remaining)

    async def DisableTwoFactor(
        self, request: two_factor_pb2.PasswordConfirmation, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        user = await self.gate.confirm(request.password)
        async with self.db.unit_of_work() as uow:
            await two_factor.disable(uow, user)
        send_cache_invalidations(context, uow)
        return empty_pb2.Empty()

    async def CompleteTwoFactorChallenge(
        self, request: two_factor_pb2.TwoFactorChallengeRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.AuthSession:
        code, recovery_code = optional(request, "code"), optional(request, "recovery_code")
        two_factor.require_one_code(code, recovery_code)
        user = await self.gate.current_user()
        async with self.db.unit_of_work() as uow:
            passed = await two_factor.pass_challenge(uow, user, code, recovery_code, self.box)
        if not passed:  # refused after the commit, so the failure counts
            field = "code" if code else "recovery_code"
            raise invalid(field, "The two-factor code is invalid.")
        async with self.db.unit_of_work() as uow:
            await sessions.revoke_current(uow)  # the challenge token is spent
            tenant = await account_store.get_tenant(uow, user.tenant_id)
            assert tenant is not None
            token = await accounts.issue_panel_token(uow, user)
        send_cache_invalidations(context, uow)
        return session_to_proto(Session(user, tenant, token))
