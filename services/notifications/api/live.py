"""LiveEvents (the panel's server-sent events, through the gateway) and StreamTickets (the
gateway redeems `?ticket=` with it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2

from plixa.common.v1.principal_pb2 import Principal
from plixa.notifications.v1 import live_pb2, live_pb2_grpc
from services.kit.db import Database
from services.kit.errors import unauthenticated
from services.kit.principal import current_principal
from services.kit.protos import optional, stamp
from services.notifications.domain.live import STREAM_METHOD, LiveHub, new_ticket, ticket_hash
from services.notifications.store import live as store
from services.notifications.store.live import LiveRow


def live_event(row: LiveRow) -> live_pb2.LiveEvent:
    data = struct_pb2.Struct()
    json_format.Parse(row.data, data)
    return live_pb2.LiveEvent(
        id=str(row.seq),
        type=row.type,
        created_at=stamp(row.created_at),
        conversation_id=row.conversation_id,
        data=data,
    )


class LiveEventsApi(live_pb2_grpc.LiveEventsServicer):
    def __init__(self, db: Database, hub: LiveHub, ticket_lifetime: timedelta) -> None:
        self.db = db
        self.hub = hub
        self.ticket_lifetime = ticket_lifetime

    async def StreamEvents(
        self, request: live_pb2.StreamEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[live_pb2.LiveEvent]:
        principal = current_principal()
        async for row in self.hub.open(
            principal, optional(request, "last_event_id"), list(request.types)
        ):
            yield live_event(row)

    async def CreateStreamTicket(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> live_pb2.StreamTicket:
        principal = current_principal()
        if not principal.tenant_id:
            raise unauthenticated()
        ticket = new_ticket()
        async with self.db.unit_of_work() as uow:
            expires_at = uow.clock.now() + self.ticket_lifetime
            # The principal as the gateway resolved it for this call, minus its per-call fields.
            kept = Principal()
            kept.CopyFrom(principal)
            kept.ClearField("request_id")
            kept.ClearField("issued_at_unix")
            await store.add_ticket(
                uow.conn,
                ticket_hash(ticket),
                principal.tenant_id,
                kept.SerializeToString(),
                STREAM_METHOD,
                expires_at,
            )
        return live_pb2.StreamTicket(ticket=ticket, expires_at=stamp(expires_at))


class StreamTicketsApi(live_pb2_grpc.StreamTicketsServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def RedeemStreamTicket(
        self, request: live_pb2.RedeemStreamTicketRequest, context: grpc.aio.ServicerContext
    ) -> Principal:
        async with self.db.unit_of_work() as uow:
            blob = await store.redeem_ticket(
                uow.conn, ticket_hash(request.ticket), request.method, uow.clock.now()
            )
        if blob is None:
            raise unauthenticated()
        return Principal.FromString(blob)
