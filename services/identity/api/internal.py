"""IdentityInternal: token resolution for the gateway and user look-ups for other services."""

from __future__ import annotations

import grpc

from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import identity_pb2, internal_pb2, internal_pb2_grpc
from services.identity.domain import sessions
from services.identity.store import accounts as account_store
from services.kit.db import Database
from services.kit.principal import ANONYMOUS
from services.kit.protos import to_proto


class IdentityInternalApi(internal_pb2_grpc.IdentityInternalServicer):
    def __init__(self, db: Database, policy: sessions.SessionPolicy) -> None:
        self.db = db
        self.policy = policy

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
