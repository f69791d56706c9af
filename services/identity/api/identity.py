"""The Identity servicer: sign-up, sign-in, sign-out and the member's own profile."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.api.mapping import me_to_proto
from services.identity.domain import accounts, sessions
from services.identity.domain.credentials import invalid_credentials
from services.identity.domain.passwords import PasswordHasher
from services.kit.db import Database
from services.kit.protos import masked_changes, optional, to_proto


class IdentityApi(identity_pb2_grpc.IdentityServicer):
    def __init__(self, db: Database, passwords: PasswordHasher) -> None:
        self.db = db
        self.passwords = passwords

    async def Register(
        self, request: identity_pb2.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.AuthSession:
        form = accounts.check_registration(
            name=request.name,
            email=request.email,
            password=request.password,
            password_confirmation=request.password_confirmation,
            company_name=request.company_name,
            country_code=request.country_code,
            timezone=request.timezone,
            locale=optional(request, "locale"),
            tax_id=optional(request, "tax_id"),
        )
        password_hash = await self.passwords.hash(form.password)  # outside the transaction
        async with self.db.unit_of_work() as uow:
            session = await accounts.register(uow, form, password_hash)
        return to_proto(session, identity_pb2.AuthSession)

    async def Login(
        self, request: identity_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.AuthSession:
        async with self.db.unit_of_work() as uow:
            user = await accounts.load_for_login(uow, request.email)
        password_ok = await self.passwords.verify_account(
            request.password, user.password_hash if user else None
        )
        async with self.db.unit_of_work() as uow:
            session = await accounts.complete_login(uow, user, request.email, password_ok)
        if session is None:
            raise invalid_credentials()
        return to_proto(session, identity_pb2.AuthSession)

    async def Logout(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await sessions.revoke_current(uow)
        return empty_pb2.Empty()

    async def GetMe(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Me:
        async with self.db.fast_reader() as uow:
            return me_to_proto(*await accounts.me(uow))

    async def UpdateMe(
        self, request: identity_pb2.UpdateMeRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Me:
        asked = masked_changes(request, accounts.MeChanges)
        async with self.db.unit_of_work() as uow:
            user, tenant = await accounts.update_me(uow, asked)
        return me_to_proto(user, tenant)

    async def GetTeamMember(
        self, request: identity_pb2.GetTeamMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.User:
        async with self.db.reader() as uow:
            return to_proto(await accounts.member(uow, request.id), identity_pb2.User)
