"""The PhoneInstances servicer: the workspace's WhatsApp numbers."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.inbox.v1 import inbox_pb2, phone_instances_pb2, phone_instances_pb2_grpc
from services.inbox.domain.instances import Instances
from services.inbox.domain.models import instance_proto
from services.kit.protos import optional


class PhoneInstancesApi(phone_instances_pb2_grpc.PhoneInstancesServicer):
    def __init__(self, instances: Instances) -> None:
        self.instances = instances

    async def CreatePhoneInstance(
        self,
        request: phone_instances_pb2.CreatePhoneInstanceRequest,
        context: grpc.aio.ServicerContext,
    ) -> inbox_pb2.PhoneInstance:
        return instance_proto(await self.instances.create(optional(request, "name")))

    async def ListPhoneInstances(
        self,
        request: phone_instances_pb2.ListPhoneInstancesRequest,
        context: grpc.aio.ServicerContext,
    ) -> phone_instances_pb2.ListPhoneInstancesResponse:
        rows = await self.instances.list()
        return phone_instances_pb2.ListPhoneInstancesResponse(
            items=[instance_proto(r) for r in rows]
        )

    async def GetPhoneInstance(
        self, request: phone_instances_pb2.PhoneInstanceRef, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.PhoneInstance:
        return instance_proto(await self.instances.get(request.id))

    async def DisconnectPhoneInstance(
        self, request: phone_instances_pb2.PhoneInstanceRef, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.PhoneInstance:
        return instance_proto(await self.instances.disconnect(request.id))

    async def RestartPhoneInstance(
        self, request: phone_instances_pb2.PhoneInstanceRef, context: grpc.aio.ServicerContext
    ) -> inbox_pb2.PhoneInstance:
        return instance_proto(await self.instances.restart(request.id))

    async def DeletePhoneInstance(
        self, request: phone_instances_pb2.PhoneInstanceRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        await self.instances.delete(request.id)
        return empty_pb2.Empty()
