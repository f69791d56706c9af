"""Identity's internal look-ups inbox needs (members, to check assignees)."""

from __future__ import annotations

from collections.abc import Iterable

from plixa.identity.v1 import internal_pb2
from services.kit.client import ServiceClient
from services.kit.principal import service_principal

GET_USERS = "/plixa.identity.v1.IdentityInternal/GetUsers"


class Members:
    def __init__(self, secret: bytes) -> None:
        self.client = ServiceClient(secret)

    async def existing(self, tenant_id: int, ids: Iterable[int]) -> set[int]:
        """Those of `ids` that are members of the tenant."""
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return set()
        reply = await self.client.call(
            "identity",
            GET_USERS,
            internal_pb2.GetUsersRequest(tenant_id=tenant_id, ids=wanted),
            internal_pb2.GetUsersResponse,
            principal=service_principal("inbox", tenant_id),
        )
        return {u.id for u in reply.users if u.tenant_id == tenant_id}
