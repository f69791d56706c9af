"""Inbox's steps of the getting-started checklist (identity asks; services/identity/domain/
onboarding.py): a number paired, and a first reply sent by a member."""

from __future__ import annotations

import grpc
from sqlalchemy import text

from plixa.common.v1 import onboarding_pb2, onboarding_pb2_grpc
from services.kit.db import Database
from services.kit.principal import ANONYMOUS

PROGRESS = text(
    "SELECT EXISTS (SELECT 1 FROM phone_instances WHERE tenant_id = :t"
    "  AND status = 'connected') AS phone_connected,"
    " EXISTS (SELECT 1 FROM messages WHERE tenant_id = :t AND direction = 'outbound'"
    "  AND sender_kind = 'member' AND status IN ('sent', 'delivered', 'read'))"
    " AS first_reply_sent"
)


class OnboardingApi(onboarding_pb2_grpc.OnboardingProgressServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetOnboardingProgress(
        self, request: onboarding_pb2.OnboardingProgressRequest, context: grpc.aio.ServicerContext
    ) -> onboarding_pb2.OnboardingProgressReply:
        async with self.db.reader(ANONYMOUS) as uow:
            row = (await uow.conn.execute(PROGRESS, {"t": request.tenant_id})).one()
        return onboarding_pb2.OnboardingProgressReply(
            steps={
                "phone_connected": bool(row.phone_connected),
                "first_reply_sent": bool(row.first_reply_sent),
            }
        )
