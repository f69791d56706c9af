"""The Labels servicer."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.inbox.v1 import labels_pb2, labels_pb2_grpc
from services.inbox.domain import labels
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import masked_changes, optional, to_proto


class LabelsApi(labels_pb2_grpc.LabelsServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ListLabels(
        self, request: labels_pb2.ListLabelsRequest, context: grpc.aio.ServicerContext
    ) -> labels_pb2.ListLabelsResponse:
        async with self.db.reader() as uow:
            page = await labels.list_page(uow, PageQuery.from_proto(request.page))
        return labels_pb2.ListLabelsResponse(
            items=[to_proto(label, labels_pb2.Label) for label in page.items], meta=page.meta()
        )

    async def CreateLabel(
        self, request: labels_pb2.CreateLabelRequest, context: grpc.aio.ServicerContext
    ) -> labels_pb2.Label:
        async with self.db.unit_of_work() as uow:
            label = await labels.create(uow, name=request.name, color=optional(request, "color"))
        return to_proto(label, labels_pb2.Label)

    async def UpdateLabel(
        self, request: labels_pb2.UpdateLabelRequest, context: grpc.aio.ServicerContext
    ) -> labels_pb2.Label:
        asked = masked_changes(request, labels.LabelUpdate)
        async with self.db.unit_of_work() as uow:
            label = await labels.update(uow, request.id, asked)
        return to_proto(label, labels_pb2.Label)

    async def DeleteLabel(
        self, request: labels_pb2.LabelRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await labels.delete(uow, request.id)
        return empty_pb2.Empty()
