"""The Digest servicer: the activity email's settings and a test send."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.notifications.v1 import digest_pb2, digest_pb2_grpc
from services.kit.db import Database
from services.kit.errors import invalid
from services.kit.principal import current_principal
from services.kit.protos import masked_changes, to_proto
from services.notifications.domain import digest


class DigestApi(digest_pb2_grpc.DigestServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetDigestConfig(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> digest_pb2.DigestConfig:
        async with self.db.reader() as uow:
            config = await digest.get(uow.conn, uow.scope.tenant_id)
        return to_proto(config, digest_pb2.DigestConfig)

    async def UpdateDigestConfig(
        self, request: digest_pb2.UpdateDigestConfigRequest, context: grpc.aio.ServicerContext
    ) -> digest_pb2.DigestConfig:
        asked = masked_changes(request, digest.ConfigChanges)
        async with self.db.unit_of_work() as uow:
            config = await digest.update(uow.conn, uow.scope.tenant_id, asked, uow.clock.now())
        return to_proto(config, digest_pb2.DigestConfig)

    async def SendTestDigest(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> digest_pb2.DigestPreview:
        to = current_principal().email
        if not to:
            raise invalid("to", "Your account has no email address to send the test to.")
        async with self.db.unit_of_work() as uow:
            email_id, rendered = await digest.send_test(
                uow.conn, uow.scope.tenant_id, to, uow.clock.now()
            )
        return digest_pb2.DigestPreview(
            to=to, subject=rendered.subject, text=rendered.text, email_id=email_id
        )
