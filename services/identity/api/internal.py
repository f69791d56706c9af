"""IdentityInternal: token resolution for the gateway and user look-ups for other services."""

from __future__ import annotations

import grpc

from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import identity_pb2, internal_pb2, internal_pb2_grpc
from services.identity.domain import sessions, staff_actions, team
from services.identity.store import accounts as account_store
from services.kit.crypto import SecretBox
from services.kit.db import Database
from services.kit.principal import ANONYMOUS
from services.kit.protos import to_proto


class IdentityInternalApi(internal_pb2_grpc.IdentityInternalServicer):
    def __init__(
        self,
        db: Database,
        policy: sessions.SessionPolicy,
        box: SecretBox,
        panel_url: str,
    ) -> None:
        self.db = db
        self.policy = policy
        self.box = box
        self.panel_url = panel_url

    async def AuthenticateToken(
        self,
        request: internal_pb2.AuthenticateTokenRequest,
        context: grpc.aio.ServicerContext,
    ) -> Principal:
        # No transaction: one read, plus at most one single-statement touch of last_used_at.
        async with self.db.fast_reader(ANONYMOUS) as uow:
            return await sessions.authenticate(uow, request.token, self.policy)

    async def GetUsers(
        self, request: internal_pb2.GetUsersRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.GetUsersResponse:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            users = await account_store.get_users(uow, request.tenant_id, list(request.ids))
        return internal_pb2.GetUsersResponse(users=[to_proto(u, identity_pb2.User) for u in users])

    async def CountMembers(
        self, request: internal_pb2.CountMembersRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.CountMembersResponse:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            members = await account_store.count_members(uow, request.tenant_id)
        return internal_pb2.CountMembersResponse(members=members)

    async def SetTenantStatus(
        self, request: internal_pb2.SetTenantStatusRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.TenantStatus:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            change = await staff_actions.set_tenant_status(uow, request.tenant_id, request.status)
        return to_proto(change, internal_pb2.TenantStatus)

    async def IssueImpersonationToken(
        self,
        request: internal_pb2.IssueImpersonationTokenRequest,
        context: grpc.aio.ServicerContext,
    ) -> internal_pb2.ImpersonationToken:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            issued = await staff_actions.issue_impersonation(
                uow, staff_id=request.staff_id, tenant_id=request.tenant_id, user_id=request.user_id
            )
        return to_proto(issued, internal_pb2.ImpersonationToken)

    async def GetInvitationLink(
        self, request: internal_pb2.GetInvitationLinkRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.InvitationLink:
        async with self.db.reader(ANONYMOUS) as uow:
            link = await team.invitation_link(
                uow,
                request.tenant_id,
                request.invitation_id,
                box=self.box,
                panel_url=self.panel_url,
            )
        return to_proto(link, internal_pb2.InvitationLink)
