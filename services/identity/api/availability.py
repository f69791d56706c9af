"""The Availability servicer (jobs/availability.py notices members whose heartbeats stopped)."""

from __future__ import annotations

from datetime import timedelta

import grpc
from google.protobuf import empty_pb2

from plixa.identity.v1 import availability_pb2, availability_pb2_grpc
from services.identity.domain import availability
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import optional, to_proto


class AvailabilityApi(availability_pb2_grpc.AvailabilityServicer):
    def __init__(self, db: Database, timeout: timedelta) -> None:
        self.db = db
        self.timeout = timeout

    async def SetMyAvailability(
        self, request: availability_pb2.SetAvailabilityRequest, context: grpc.aio.ServicerContext
    ) -> availability_pb2.MemberAvailability:
        async with self.db.unit_of_work() as uow:
            view = await availability.set_mine(uow, optional(request, "is_available"), self.timeout)
        return to_proto(view, availability_pb2.MemberAvailability)

    async def Heartbeat(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> availability_pb2.MemberAvailability:
        async with self.db.unit_of_work() as uow:
            view = await availability.heartbeat(uow, self.timeout)
        return to_proto(view, availability_pb2.MemberAvailability)

    async def GetTeamAvailability(
        self,
        request: availability_pb2.GetTeamAvailabilityRequest,
        context: grpc.aio.ServicerContext,
    ) -> availability_pb2.TeamAvailability:
        async with self.db.reader() as uow:
            page = await availability.team(uow, self.timeout, PageQuery.from_proto(request.page))
        return availability_pb2.TeamAvailability(
            items=[to_proto(v, availability_pb2.MemberAvailability) for v in page.items],
            meta=page.meta(),
        )
