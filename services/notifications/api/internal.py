"""NotificationsInternal: email and web push for other services."""

from __future__ import annotations

import grpc

from plixa.notifications.v1 import internal_pb2, internal_pb2_grpc
from services.kit.db import Database
from services.kit.errors import invalid
from services.kit.principal import ANONYMOUS
from services.notifications.domain import emails, push
from services.notifications.store import push as push_store


class NotificationsInternalApi(internal_pb2_grpc.NotificationsInternalServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def SendEmail(
        self, request: internal_pb2.SendEmailRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.SendEmailResponse:
        key = request.idempotency_key.strip()
        if not key or len(key) > 255:
            raise invalid(
                "idempotency_key",
                "An idempotency key of 1 to 255 characters is required.",
                "required",
            )
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            email_id, status = await emails.enqueue(
                uow.conn,
                template=request.template,
                to=request.to,
                data=dict(request.data),
                idempotency_key=f"ext:{key}",
                tenant_id=request.tenant_id or None,
                now=uow.clock.now(),
            )
        return internal_pb2.SendEmailResponse(email_id=email_id, status=status)

    async def PushToMembers(
        self, request: internal_pb2.PushToMembersRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.PushResult:
        if not request.tenant_id:
            raise invalid("tenant_id", "The tenant_id is required.", "required")
        message = push.payload(request.title, request.body, request.url)
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            sent = await push_store.enqueue_for_users(
                uow.conn,
                request.tenant_id,
                list(request.user_ids) or None,
                message,
                uow.clock.now(),
            )
        return internal_pb2.PushResult(sent=sent)

    async def PushToStaff(
        self, request: internal_pb2.PushToStaffRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.PushResult:
        message = push.payload(request.title, request.body, request.url)
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            sent = await push_store.enqueue_for_staff(uow.conn, message, uow.clock.now())
        return internal_pb2.PushResult(sent=sent)
