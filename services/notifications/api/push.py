"""The Push servicer: the VAPID public key and members' and staff's subscriptions."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.notifications.v1 import push_pb2, push_pb2_grpc
from services.kit.db import Database
from services.kit.principal import current_principal
from services.kit.protos import optional, to_proto
from services.notifications.domain import push
from services.notifications.store import push as store


class PushApi(push_pb2_grpc.PushServicer):
    def __init__(
        self, db: Database, vapid: push.Vapid, *, production: bool, allowed_hosts: frozenset[str]
    ) -> None:
        self.db = db
        self.vapid = vapid
        self.production = production
        self.allowed_hosts = allowed_hosts

    async def GetVapidPublicKey(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> push_pb2.VapidPublicKey:
        return push_pb2.VapidPublicKey(public_key=self.vapid.public_key)

    async def _subscribe(
        self,
        request: push_pb2.SubscribePushRequest,
        kind: str,
        owner_id: int,
        tenant_id: int | None,
    ) -> push_pb2.PushSubscription:
        async with self.db.unit_of_work() as uow:
            found = await push.subscribe(
                uow.conn,
                owner_kind=kind,
                owner_id=owner_id,
                tenant_id=tenant_id,
                endpoint=request.endpoint,
                p256dh=request.keys.p256dh,
                auth=request.keys.auth,
                content_encoding=optional(request, "content_encoding"),
                production=self.production,
                allowed_hosts=self.allowed_hosts,
                now=uow.clock.now(),
            )
        return to_proto(found, push_pb2.PushSubscription)

    async def SubscribePush(
        self, request: push_pb2.SubscribePushRequest, context: grpc.aio.ServicerContext
    ) -> push_pb2.PushSubscription:
        me = current_principal()
        return await self._subscribe(request, "user", me.user_id, me.tenant_id)

    async def SubscribeStaffPush(
        self, request: push_pb2.SubscribePushRequest, context: grpc.aio.ServicerContext
    ) -> push_pb2.PushSubscription:
        return await self._subscribe(request, "staff", current_principal().staff_id, None)

    async def UnsubscribePush(
        self, request: push_pb2.UnsubscribePushRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await store.remove(
                uow.conn, "user", current_principal().user_id, request.endpoint.strip()
            )
        return empty_pb2.Empty()

    async def UnsubscribeStaffPush(
        self, request: push_pb2.UnsubscribePushRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await store.remove(
                uow.conn, "staff", current_principal().staff_id, request.endpoint.strip()
            )
        return empty_pb2.Empty()
