"""The WebhookEndpoints servicer: endpoints, their deliveries, retry."""

from __future__ import annotations

from datetime import timedelta

import grpc
from google.protobuf import empty_pb2

from plixa.notifications.v1 import webhooks_pb2, webhooks_pb2_grpc
from services.kit.crypto import SecretBox
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import masked_changes, optional, to_proto
from services.notifications.domain import webhooks
from services.notifications.domain.outbound import Sender


class WebhooksApi(webhooks_pb2_grpc.WebhookEndpointsServicer):
    def __init__(
        self, db: Database, box: SecretBox, sender: Sender, rotation_overlap: timedelta
    ) -> None:
        self.db = db
        self.box = box
        self.sender = sender
        self.rotation_overlap = rotation_overlap

    async def ListWebhookEndpoints(
        self, request: webhooks_pb2.ListWebhookEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.ListWebhookEndpointsResponse:
        async with self.db.reader() as uow:
            page = await webhooks.list_page(uow, PageQuery.from_proto(request.page))
        return webhooks_pb2.ListWebhookEndpointsResponse(
            items=[to_proto(e, webhooks_pb2.WebhookEndpoint) for e in page.items], meta=page.meta()
        )

    async def ListWebhookEventTypes(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.ListWebhookEventTypesResponse:
        return webhooks_pb2.ListWebhookEventTypesResponse(
            items=[
                webhooks_pb2.WebhookEventType(type=t, summary=s)
                for t, s in webhooks.EVENT_TYPES.items()
            ]
        )

    async def CreateWebhookEndpoint(
        self, request: webhooks_pb2.CreateWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.WebhookEndpoint:
        async with self.db.unit_of_work() as uow:
            endpoint = await webhooks.create(
                uow,
                url=request.url,
                events=list(request.events),
                description=optional(request, "description"),
                box=self.box,
                sender=self.sender,
            )
        return to_proto(endpoint, webhooks_pb2.WebhookEndpoint)

    async def GetWebhookEndpoint(
        self, request: webhooks_pb2.WebhookEndpointRef, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.WebhookEndpoint:
        async with self.db.reader() as uow:
            return to_proto(await webhooks.get(uow, request.id), webhooks_pb2.WebhookEndpoint)

    async def UpdateWebhookEndpoint(
        self, request: webhooks_pb2.UpdateWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.WebhookEndpoint:
        asked = masked_changes(request, webhooks.EndpointUpdate)
        async with self.db.unit_of_work() as uow:
            endpoint = await webhooks.update(uow, request.id, asked, self.sender)
        return to_proto(endpoint, webhooks_pb2.WebhookEndpoint)

    async def DeleteWebhookEndpoint(
        self, request: webhooks_pb2.WebhookEndpointRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await webhooks.delete(uow, request.id)
        return empty_pb2.Empty()

    async def RotateWebhookSecret(
        self, request: webhooks_pb2.WebhookEndpointRef, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.WebhookEndpoint:
        async with self.db.unit_of_work() as uow:
            endpoint = await webhooks.rotate(uow, request.id, self.box, self.rotation_overlap)
        return to_proto(endpoint, webhooks_pb2.WebhookEndpoint)

    async def TestWebhookEndpoint(
        self, request: webhooks_pb2.WebhookEndpointRef, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.WebhookTestResult:
        async with self.db.reader() as uow:
            row = await webhooks.load_for_test(uow, request.id)
            now = uow.clock.now()
        result = await webhooks.send_test(
            row, self.box, self.sender, now
        )  # outside any transaction
        return to_proto(result, webhooks_pb2.WebhookTestResult)

    async def ListWebhookDeliveries(
        self, request: webhooks_pb2.ListWebhookDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.ListWebhookDeliveriesResponse:
        async with self.db.reader() as uow:
            page = await webhooks.deliveries_page(
                uow, request.id, optional(request, "status"), PageQuery.from_proto(request.page)
            )
        return webhooks_pb2.ListWebhookDeliveriesResponse(
            items=[to_proto(d, webhooks_pb2.WebhookDelivery) for d in page.items], meta=page.meta()
        )

    async def GetWebhookDelivery(
        self, request: webhooks_pb2.WebhookDeliveryRef, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.WebhookDelivery:
        async with self.db.reader() as uow:
            return to_proto(await webhooks.delivery(uow, request.id), webhooks_pb2.WebhookDelivery)

    async def RetryWebhookDelivery(
        self, request: webhooks_pb2.WebhookDeliveryRef, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.WebhookDelivery:
        async with self.db.unit_of_work() as uow:
            delivery = await webhooks.retry(uow, request.id)
        return to_proto(delivery, webhooks_pb2.WebhookDelivery)
