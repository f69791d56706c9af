"""AdminCampaigns: thin servicer over domain/campaigns.py."""

from __future__ import annotations

from datetime import UTC

import grpc
from google.protobuf import empty_pb2

from plixa.backoffice.v1 import campaigns_pb2, campaigns_pb2_grpc
from services.backoffice.clients.notifications import NotificationsClient
from services.backoffice.domain import campaigns
from services.backoffice.domain.campaigns import Campaign
from services.kit.db import Database
from services.kit.logs import request_id_var
from services.kit.paging import PageQuery
from services.kit.protos import optional, to_proto


def campaign_to_proto(campaign: Campaign) -> campaigns_pb2.Campaign:
    return to_proto(
        campaign.row,
        campaigns_pb2.Campaign,
        counts=to_proto(campaign.counts, campaigns_pb2.CampaignCounts),
    )


class AdminCampaignsApi(campaigns_pb2_grpc.AdminCampaignsServicer):
    def __init__(self, db: Database, notifications: NotificationsClient) -> None:
        self.db = db
        self.notifications = notifications

    async def CreateCampaign(
        self, request: campaigns_pb2.CreateCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.Campaign:
        at = (
            request.scheduled_at.ToDatetime(tzinfo=UTC)
            if request.HasField("scheduled_at")
            else None
        )
        async with self.db.unit_of_work() as uow:
            campaign = await campaigns.create(
                uow,
                name=request.name,
                subject=request.subject,
                body=request.body,
                segment=request.segment,
                plan=optional(request, "plan"),
                send_now=bool(optional(request, "send_now")),
                scheduled_at=at,
            )
        return campaign_to_proto(campaign)

    async def ListCampaigns(
        self, request: campaigns_pb2.ListCampaignsRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.ListCampaignsResponse:
        async with self.db.reader() as uow:
            page = await campaigns.list_page(
                uow, optional(request, "status"), PageQuery.from_proto(request.page)
            )
        return campaigns_pb2.ListCampaignsResponse(
            items=[campaign_to_proto(c) for c in page.items], meta=page.meta()
        )

    async def GetCampaign(
        self, request: campaigns_pb2.CampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.Campaign:
        async with self.db.reader() as uow:
            return campaign_to_proto(await campaigns.get(uow, request.id))

    async def ListRecipients(
        self, request: campaigns_pb2.ListRecipientsRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.ListRecipientsResponse:
        async with self.db.reader() as uow:
            page = await campaigns.recipients(
                uow, request.id, optional(request, "status"), PageQuery.from_proto(request.page)
            )
        return campaigns_pb2.ListRecipientsResponse(
            items=[to_proto(r, campaigns_pb2.CampaignRecipient) for r in page.items],
            meta=page.meta(),
        )

    async def ScheduleCampaign(
        self, request: campaigns_pb2.ScheduleCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.Campaign:
        at = (
            request.scheduled_at.ToDatetime(tzinfo=UTC)
            if request.HasField("scheduled_at")
            else None
        )
        async with self.db.unit_of_work() as uow:
            return campaign_to_proto(await campaigns.schedule(uow, request.id, at))

    async def DeleteCampaign(
        self, request: campaigns_pb2.CampaignRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await campaigns.delete_draft(uow, request.id)
        return empty_pb2.Empty()

    async def TestCampaign(
        self, request: campaigns_pb2.TestCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.TestSend:
        to, queued = await campaigns.send_test(
            self.db,
            self.notifications,
            subject=request.subject,
            body=request.body,
            key=request_id_var.get(),
        )
        return campaigns_pb2.TestSend(to=to, email_id=queued.email_id, status=queued.status)
