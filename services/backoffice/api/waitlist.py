"""Waitlist (public sign-up) and AdminWaitlist (the staff's list)."""

from __future__ import annotations

import grpc

from plixa.backoffice.v1 import waitlist_pb2, waitlist_pb2_grpc
from services.backoffice.domain import waitlist
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import optional, to_proto


class WaitlistApi(waitlist_pb2_grpc.WaitlistServicer):
    def __init__(self, db: Database, per_hour: int) -> None:
        self.db = db
        self.per_hour = per_hour

    async def JoinWaitlist(
        self, request: waitlist_pb2.JoinWaitlistRequest, context: grpc.aio.ServicerContext
    ) -> waitlist_pb2.WaitlistSignup:
        async with self.db.unit_of_work() as uow:
            entry = await waitlist.join(
                uow,
                email=request.email,
                locale=optional(request, "locale"),
                referrer=optional(request, "referrer"),
                per_hour=self.per_hour,
            )
        return to_proto(entry, waitlist_pb2.WaitlistSignup)


class AdminWaitlistApi(waitlist_pb2_grpc.AdminWaitlistServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ListWaitlist(
        self, request: waitlist_pb2.ListWaitlistRequest, context: grpc.aio.ServicerContext
    ) -> waitlist_pb2.ListWaitlistResponse:
        q = (optional(request, "q") or "").strip() or None
        async with self.db.reader() as uow:
            page = await waitlist.list_page(uow, q, PageQuery.from_proto(request.page))
        return waitlist_pb2.ListWaitlistResponse(
            items=[to_proto(e, waitlist_pb2.WaitlistEntry) for e in page.items], meta=page.meta()
        )
