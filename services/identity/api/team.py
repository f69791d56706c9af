"""The Team servicer: invitations, joining, members."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import identity_pb2, team_pb2, team_pb2_grpc
from services.identity.domain import team
from services.identity.domain.passwords import PasswordHasher
from services.kit.crypto import SecretBox
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import optional, to_proto


class TeamApi(team_pb2_grpc.TeamServicer):
    def __init__(
        self, db: Database, passwords: PasswordHasher, box: SecretBox, panel_url: str
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.box = box
        self.panel_url = panel_url

    async def ListInvitations(
        self, request: team_pb2.ListInvitationsRequest, context: grpc.aio.ServicerContext
    ) -> team_pb2.ListInvitationsResponse:
        async with self.db.reader() as uow:
            page = await team.list_invitations(uow, PageQuery.from_proto(request.page))
        return team_pb2.ListInvitationsResponse(
            items=[to_proto(i, team_pb2.Invitation) for i in page.items], meta=page.meta()
        )

    async def CreateInvitation(
        self, request: team_pb2.CreateInvitationRequest, context: grpc.aio.ServicerContext
    ) -> team_pb2.Invitation:
        async with self.db.unit_of_work() as uow:
            invitation = await team.invite(
                uow,
                email=request.email,
                role=optional(request, "role"),
                box=self.box,
                panel_url=self.panel_url,
            )
        return to_proto(invitation, team_pb2.Invitation)

    async def ResendInvitation(
        self, request: team_pb2.InvitationRef, context: grpc.aio.ServicerContext
    ) -> team_pb2.Invitation:
        async with self.db.unit_of_work() as uow:
            invitation = await team.resend(uow, request.id, box=self.box, panel_url=self.panel_url)
        return to_proto(invitation, team_pb2.Invitation)

    async def CancelInvitation(
        self, request: team_pb2.InvitationRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await team.cancel(uow, request.id)
        return empty_pb2.Empty()

    async def AcceptInvitation(
        self, request: team_pb2.AcceptInvitationRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.AuthSession:
        name, locale = team.check_acceptance(
            token=request.token,
            name=request.name,
            password=request.password,
            confirmation=optional(request, "password_confirmation"),
            locale=optional(request, "locale"),
        )
        password_hash = await self.passwords.hash(request.password)
        async with self.db.unit_of_work() as uow:
            session = await team.accept(
                uow, token=request.token, name=name, locale=locale, password_hash=password_hash
            )
        return to_proto(session, identity_pb2.AuthSession)

    async def ListMembers(
        self, request: team_pb2.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> team_pb2.ListMembersResponse:
        async with self.db.reader() as uow:
            page = await team.members(uow, PageQuery.from_proto(request.page))
        return team_pb2.ListMembersResponse(
            items=[to_proto(u, identity_pb2.User) for u in page.items], meta=page.meta()
        )

    async def RemoveMember(
        self, request: team_pb2.MemberRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await team.remove_member(uow, request.id)
        return empty_pb2.Empty()
