"""The ApiTokens servicer."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import api_tokens_pb2, api_tokens_pb2_grpc
from services.identity.domain import api_tokens
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import optional, to_proto


class ApiTokensApi(api_tokens_pb2_grpc.ApiTokensServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ListApiTokens(
        self, request: api_tokens_pb2.ListApiTokensRequest, context: grpc.aio.ServicerContext
    ) -> api_tokens_pb2.ListApiTokensResponse:
        async with self.db.reader() as uow:
            page = await api_tokens.list_tokens(uow, PageQuery.from_proto(request.page))
        return api_tokens_pb2.ListApiTokensResponse(
            items=[to_proto(t, api_tokens_pb2.ApiToken) for t in page.items], meta=page.meta()
        )

    async def CreateApiToken(
        self, request: api_tokens_pb2.CreateApiTokenRequest, context: grpc.aio.ServicerContext
    ) -> api_tokens_pb2.CreatedApiToken:
        async with self.db.unit_of_work() as uow:
            token = await api_tokens.create(
                uow,
                name=request.name,
                abilities=list(request.abilities),
                expires_in_days=optional(request, "expires_in_days"),
            )
        return to_proto(token, api_tokens_pb2.CreatedApiToken, token=token.plain)

    async def RevokeApiToken(
        self, request: api_tokens_pb2.RevokeApiTokenRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await api_tokens.revoke(uow, request.id)
        return empty_pb2.Empty()
