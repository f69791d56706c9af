"""The CustomFieldDefinitions servicer."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.inbox.v1 import custom_fields_pb2 as pb
from plixa.inbox.v1 import custom_fields_pb2_grpc
from services.inbox.domain import custom_fields
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import masked_changes, to_proto


class CustomFieldDefinitionsApi(custom_fields_pb2_grpc.CustomFieldDefinitionsServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ListCustomFieldDefinitions(
        self, request: pb.ListCustomFieldDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCustomFieldDefinitionsResponse:
        async with self.db.reader() as uow:
            page = await custom_fields.list_page(uow, PageQuery.from_proto(request.page))
        return pb.ListCustomFieldDefinitionsResponse(
            items=[to_proto(d, pb.CustomFieldDefinition) for d in page.items], meta=page.meta()
        )

    async def CreateCustomFieldDefinition(
        self, request: pb.CreateCustomFieldDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CustomFieldDefinition:
        async with self.db.unit_of_work() as uow:
            definition = await custom_fields.create(uow, name=request.name)
        return to_proto(definition, pb.CustomFieldDefinition)

    async def UpdateCustomFieldDefinition(
        self, request: pb.UpdateCustomFieldDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CustomFieldDefinition:
        asked = masked_changes(request, custom_fields.DefinitionUpdate)
        async with self.db.unit_of_work() as uow:
            definition = await custom_fields.update(uow, request.id, asked)
        return to_proto(definition, pb.CustomFieldDefinition)

    async def DeleteCustomFieldDefinition(
        self, request: pb.CustomFieldDefinitionRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await custom_fields.delete(uow, request.id)
        return empty_pb2.Empty()

    async def ReorderCustomFieldDefinitions(
        self, request: pb.ReorderCustomFieldDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReorderCustomFieldDefinitionsResponse:
        async with self.db.unit_of_work() as uow:
            ordered = await custom_fields.reorder(uow, list(request.ids))
        return pb.ReorderCustomFieldDefinitionsResponse(
            items=[to_proto(d, pb.CustomFieldDefinition) for d in ordered]
        )
