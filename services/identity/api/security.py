"""The Security servicer: workspace-wide access toggles."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import security_pb2, security_pb2_grpc
from services.identity.api.support import send_cache_invalidations
from services.identity.domain import security
from services.identity.domain.models import Tenant
from services.kit.db import Database
from services.kit.principal import require_owner, require_user
from services.kit.protos import optional


def config_to_proto(tenant: Tenant) -> security_pb2.SecurityConfig:
    return security_pb2.SecurityConfig(
        require_two_factor=tenant.require_two_factor,
        agent_restricted_to_own_conversations=tenant.agent_restricted_to_own_conversations,
    )


class SecurityApi(security_pb2_grpc.SecurityServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetSecurityConfig(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> security_pb2.SecurityConfig:
        require_user()
        async with self.db.unit_of_work() as uow:
            return config_to_proto(await security.current(uow))

    async def UpdateSecurityConfig(
        self, request: security_pb2.UpdateSecurityConfigRequest, context: grpc.aio.ServicerContext
    ) -> security_pb2.SecurityConfig:
        require_owner()
        async with self.db.unit_of_work() as uow:
            tenant = await security.update(
                uow,
                require_two_factor=optional(request, "require_two_factor"),
                agent_restricted_to_own_conversations=optional(
                    request, "agent_restricted_to_own_conversations"
                ),
            )
        send_cache_invalidations(context, uow)
        return config_to_proto(tenant)
