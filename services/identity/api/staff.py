"""The StaffAuth servicer: sign-in for Plixa staff, with its mandatory second factor."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import staff_pb2, staff_pb2_grpc, two_factor_pb2
from services.identity.domain import sessions
from services.identity.domain import staff as staff_domain
from services.identity.domain.credentials import invalid_credentials
from services.identity.domain.passwords import PasswordHasher
from services.identity.domain.two_factor import FactorKeys
from services.kit.db import Database
from services.kit.protos import optional, to_proto


class StaffAuthApi(staff_pb2_grpc.StaffAuthServicer):
    def __init__(self, db: Database, passwords: PasswordHasher, keys: FactorKeys) -> None:
        self.db = db
        self.passwords = passwords
        self.keys = keys

    async def StaffLogin(
        self, request: staff_pb2.StaffLoginRequest, context: grpc.aio.ServicerContext
    ) -> staff_pb2.StaffSession:
        async with self.db.unit_of_work() as uow:
            staff = await staff_domain.load_for_login(uow, request.email)
        password_ok = await self.passwords.verify_account(
            request.password, staff.password_hash if staff else None
        )
        async with self.db.unit_of_work() as uow:
            session = await staff_domain.complete_login(uow, staff, request.email, password_ok)
        if session is None:  # raised after the commit, so the failure counts
            raise invalid_credentials()
        return to_proto(session, staff_pb2.StaffSession)

    async def StaffLogout(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await sessions.revoke_current(uow)
        return empty_pb2.Empty()

    async def GetStaffMe(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> staff_pb2.Staff:
        async with self.db.unit_of_work() as uow:
            return to_proto(await staff_domain.me(uow), staff_pb2.Staff)

    async def SetupStaffTwoFactor(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> two_factor_pb2.TwoFactorSetup:
        async with self.db.unit_of_work() as uow:
            seed, uri = await staff_domain.start_enrolment(uow, self.keys)
        return two_factor_pb2.TwoFactorSetup(secret=seed, otpauth_uri=uri)

    async def ConfirmStaffTwoFactor(
        self, request: two_factor_pb2.ConfirmTwoFactorRequest, context: grpc.aio.ServicerContext
    ) -> staff_pb2.StaffEnrolment:
        async with self.db.unit_of_work() as uow:
            session, codes = await staff_domain.finish_enrolment(uow, request.code, self.keys)
        return staff_pb2.StaffEnrolment(
            session=to_proto(session, staff_pb2.StaffSession), recovery_codes=codes
        )

    async def CompleteStaffTwoFactorChallenge(
        self, request: two_factor_pb2.TwoFactorChallengeRequest, context: grpc.aio.ServicerContext
    ) -> staff_pb2.StaffSession:
        session = await staff_domain.complete_challenge(
            self.db,
            self.keys,
            code=optional(request, "code"),
            recovery_code=optional(request, "recovery_code"),
        )
        return to_proto(session, staff_pb2.StaffSession)
