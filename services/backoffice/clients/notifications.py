"""Notifications' internal email RPC (plixa.notifications.v1.NotificationsInternal/SendEmail).
The same idempotency key sends at most one email, however often it is asked."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from services.backoffice.clients.contracts import required
from services.kit.client import ServiceClient, ServiceUnavailable, Unimplemented
from services.kit.principal import service_principal

CONTRACT = "plixa.notifications.v1.internal_pb2"
SEND_EMAIL = "/plixa.notifications.v1.NotificationsInternal/SendEmail"
PUSH_TO_STAFF = "/plixa.notifications.v1.NotificationsInternal/PushToStaff"


@dataclass(frozen=True)
class Queued:
    email_id: int
    status: str


class NotificationsClient:
    def __init__(self, secret: bytes, timeout: float = 5.0) -> None:
        self.client = ServiceClient(secret, timeout=timeout)

    async def send_email(
        self,
        *,
        template: str,
        to: str,
        data: dict[str, str],
        idempotency_key: str,
        tenant_id: int = 0,
    ) -> Queued:
        messages = required(CONTRACT, "notifications")
        try:
            reply = await self.client.call(
                "notifications",
                SEND_EMAIL,
                messages.SendEmailRequest(
                    template=template,
                    to=to,
                    data=data,
                    idempotency_key=idempotency_key,
                    tenant_id=tenant_id,
                ),
                messages.SendEmailResponse,
                principal=service_principal("backoffice", tenant_id),
            )
        except Unimplemented:
            raise ServiceUnavailable("notifications", grpc.StatusCode.UNIMPLEMENTED) from None
        return Queued(int(reply.email_id), str(reply.status))

    async def push_to_staff(self, *, title: str, body: str, url: str) -> int:
        messages = required(CONTRACT, "notifications")
        try:
            reply = await self.client.call(
                "notifications",
                PUSH_TO_STAFF,
                messages.PushToStaffRequest(title=title, body=body, url=url),
                messages.PushResult,
                principal=service_principal("backoffice"),
            )
        except Unimplemented:
            raise ServiceUnavailable("notifications", grpc.StatusCode.UNIMPLEMENTED) from None
        return int(reply.sent)
