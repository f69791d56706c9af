"""The Security servicer: workspace-wide access toggles."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import security_pb2, security_pb2_grpc
from services.identity.domain import security
from services.kit.db import Database
from services.kit.protos import masked_changes, to_proto


class SecurityApi(security_pb2_grpc.SecurityServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetSecurityConfig(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> security_pb2.SecurityConfig:
        async with self.db.unit_of_work() as uow:
            return to_proto(await security.current(uow), security_pb2.SecurityConfig)

    async def UpdateSecurityConfig(
        self, request: security_pb2.UpdateSecurityConfigRequest, context: grpc.aio.ServicerContext
    ) -> security_pb2.SecurityConfig:
        asked = masked_changes(request, security.SecurityChanges)
        async with self.db.unit_of_work() as uow:
            tenant = await security.update(uow, asked)
        return to_proto(tenant, security_pb2.SecurityConfig)
