"""Identity's internal RPCs notifications calls (an invitation's link, a member's email)."""

from __future__ import annotations

from plixa.identity.v1 import identity_pb2, internal_pb2
from services.kit.client import ServiceClient
from services.kit.principal import service_principal

GET_INVITATION_LINK = "/plixa.identity.v1.IdentityInternal/GetInvitationLink"
GET_USERS = "/plixa.identity.v1.IdentityInternal/GetUsers"
ME = service_principal("notifications")


class IdentityClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def invitation_link(
        self, tenant_id: int, invitation_id: int
    ) -> internal_pb2.InvitationLink:
        """DomainError NOT_FOUND when the invitation is no longer pending."""
        return await self.client.call(
            "identity",
            GET_INVITATION_LINK,
            internal_pb2.GetInvitationLinkRequest(tenant_id=tenant_id, invitation_id=invitation_id),
            internal_pb2.InvitationLink,
            principal=ME,
        )

    async def user(self, tenant_id: int, user_id: int) -> identity_pb2.User | None:
        reply = await self.client.call(
            "identity",
            GET_USERS,
            internal_pb2.GetUsersRequest(tenant_id=tenant_id, ids=[user_id]),
            internal_pb2.GetUsersResponse,
            principal=ME,
        )
        return reply.users[0] if reply.users else None
