"""AdminAudit: the audit log, read-only (no RPC edits or deletes it)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import grpc
from google.protobuf import struct_pb2

from plixa.backoffice.v1 import audit_pb2, audit_pb2_grpc
from services.backoffice.store import audit as audit_store
from services.backoffice.store.audit import AuditEntry, AuditFilter
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import optional, to_proto


def _struct(summary: dict[str, Any] | None) -> struct_pb2.Struct | None:
    if summary is None:
        return None
    value = struct_pb2.Struct()
    value.update(summary)
    return value


def entry_to_proto(entry: AuditEntry) -> audit_pb2.AuditEntry:
    return to_proto(
        entry,
        audit_pb2.AuditEntry,
        before=_struct(entry.before),
        after=_struct(entry.after),
    )


class AdminAuditApi(audit_pb2_grpc.AdminAuditServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ListAuditLogs(
        self, request: audit_pb2.ListAuditLogsRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListAuditLogsResponse:
        since = request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None
        until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None
        where = AuditFilter(
            staff_id=optional(request, "staff_id"),
            tenant_id=optional(request, "tenant_id"),
            action=optional(request, "action"),
            since=since,
            until=until,
        )
        async with self.db.reader() as uow:
            page = await audit_store.list_page(uow.conn, where, PageQuery.from_proto(request.page))
        return audit_pb2.ListAuditLogsResponse(
            items=[entry_to_proto(e) for e in page.items], meta=page.meta()
        )
