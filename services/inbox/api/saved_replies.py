"""The SavedReplies servicer."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.inbox.v1 import saved_replies_pb2 as pb
from plixa.inbox.v1 import saved_replies_pb2_grpc
from services.inbox.domain import saved_replies
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import masked_changes, to_proto


class SavedRepliesApi(saved_replies_pb2_grpc.SavedRepliesServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ListSavedReplies(
        self, request: pb.ListSavedRepliesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSavedRepliesResponse:
        async with self.db.reader() as uow:
            page = await saved_replies.list_page(uow, PageQuery.from_proto(request.page))
        return pb.ListSavedRepliesResponse(
            items=[to_proto(r, pb.SavedReply) for r in page.items], meta=page.meta()
        )

    async def CreateSavedReply(
        self, request: pb.CreateSavedReplyRequest, context: grpc.aio.ServicerContext
    ) -> pb.SavedReply:
        async with self.db.unit_of_work() as uow:
            reply = await saved_replies.create(uow, label=request.label, body=request.body)
        return to_proto(reply, pb.SavedReply)

    async def UpdateSavedReply(
        self, request: pb.UpdateSavedReplyRequest, context: grpc.aio.ServicerContext
    ) -> pb.SavedReply:
        asked = masked_changes(request, saved_replies.SavedReplyUpdate)
        async with self.db.unit_of_work() as uow:
            reply = await saved_replies.update(uow, request.id, asked)
        return to_proto(reply, pb.SavedReply)

    async def DeleteSavedReply(
        self, request: pb.SavedReplyRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await saved_replies.delete(uow, request.id)
        return empty_pb2.Empty()

    async def ReorderSavedReplies(
        self, request: pb.ReorderSavedRepliesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReorderSavedRepliesResponse:
        async with self.db.unit_of_work() as uow:
            ordered = await saved_replies.reorder(uow, list(request.ids))
        return pb.ReorderSavedRepliesResponse(items=[to_proto(r, pb.SavedReply) for r in ordered])
