"""Workspace members through identity's internal gRPC: providers are members (user ids)."""

from __future__ import annotations

from plixa.identity.v1 import identity_pb2, internal_pb2
from services.kit.client import ServiceClient
from services.kit.principal import service_principal

GET_USERS = "/plixa.identity.v1.IdentityInternal/GetUsers"


class Members:
    def __init__(self, client: ServiceClient, timeout: float = 2.0) -> None:
        self.client = client
        self.timeout = timeout

    async def get(self, tenant_id: int, ids: list[int]) -> dict[int, identity_pb2.User]:
        """The tenant's members among `ids` (others' ids and unknown ones are absent)."""
        if not ids:
            return {}
        reply = await self.client.call(
            "identity",
            GET_USERS,
            internal_pb2.GetUsersRequest(tenant_id=tenant_id, ids=sorted(set(ids))),
            internal_pb2.GetUsersResponse,
            principal=service_principal("scheduling", tenant_id),
            timeout=self.timeout,
        )
        return {u.id: u for u in reply.users if u.tenant_id == tenant_id}
