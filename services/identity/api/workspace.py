"""The Workspace servicer: settings and logo."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.common.v1 import http_body_pb2
from plixa.identity.v1 import workspace_pb2, workspace_pb2_grpc
from services.identity.domain import workspace
from services.identity.domain.logos import LogoStorage
from services.identity.domain.models import Tenant
from services.kit.db import Database
from services.kit.protos import masked_changes, to_proto


class WorkspaceApi(workspace_pb2_grpc.WorkspaceServicer):
    def __init__(self, db: Database, storage: LogoStorage, public_url: str) -> None:
        self.db = db
        self.storage = storage
        self.public_url = public_url.rstrip("/")

    def to_proto(self, tenant: Tenant) -> workspace_pb2.WorkspaceConfig:
        logo_url = (
            f"{self.public_url}/v1/files/logos/{tenant.logo_key}" if tenant.logo_key else None
        )
        return to_proto(tenant, workspace_pb2.WorkspaceConfig, logo_url=logo_url)

    async def GetWorkspaceConfig(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> workspace_pb2.WorkspaceConfig:
        async with self.db.unit_of_work() as uow:
            return self.to_proto(await workspace.current(uow))

    async def UpdateWorkspaceConfig(
        self, request: workspace_pb2.UpdateWorkspaceConfigRequest, context: grpc.aio.ServicerContext
    ) -> workspace_pb2.WorkspaceConfig:
        asked = masked_changes(request, workspace.WorkspaceChanges)
        async with self.db.unit_of_work() as uow:
            tenant = await workspace.update(uow, asked)
        return self.to_proto(tenant)

    async def UploadLogo(
        self, request: workspace_pb2.UploadLogoRequest, context: grpc.aio.ServicerContext
    ) -> workspace_pb2.WorkspaceConfig:
        async with self.db.unit_of_work() as uow:
            tenant, previous = await workspace.replace_logo(uow, self.storage, request.logo)
        if previous:
            self.storage.delete(previous)  # only once the new key is committed
        return self.to_proto(tenant)

    async def DeleteLogo(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> workspace_pb2.WorkspaceConfig:
        async with self.db.unit_of_work() as uow:
            tenant, previous = await workspace.remove_logo(uow)
        if previous:
            self.storage.delete(previous)
        return self.to_proto(tenant)

    async def GetLogo(
        self, request: workspace_pb2.GetLogoRequest, context: grpc.aio.ServicerContext
    ) -> http_body_pb2.HttpBody:
        async with self.db.unit_of_work() as uow:
            data, content_type = await workspace.logo(uow, self.storage, request.key)
        return http_body_pb2.HttpBody(
            content_type=content_type, data=data, cache_control="public, max-age=86400, immutable"
        )
