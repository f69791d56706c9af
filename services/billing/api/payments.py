"""The Payments servicer: Stripe Connect onboarding, the dashboard link and received deposits
(owner-only, declared in proto/plixa/billing/v1/payments.proto)."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.billing.v1 import payments_pb2, payments_pb2_grpc
from services.billing.clients.stripe_api import StripeApi
from services.billing.domain import payments
from services.billing.domain.subscriptions import BillingConfig
from services.billing.store import payments as payment_store
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.principal import current_principal
from services.kit.protos import to_proto


class PaymentsApi(payments_pb2_grpc.PaymentsServicer):
    def __init__(self, db: Database, stripe: StripeApi, config: BillingConfig) -> None:
        self.db = db
        self.stripe = stripe
        self.config = config

    async def ConnectPayments(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> payments_pb2.ConnectResponse:
        connection = await payments.connect(
            self.db, self.stripe, self.config, tenant_id=current_principal().tenant_id
        )
        return to_proto(connection, payments_pb2.ConnectResponse)

    async def CreateDashboardLink(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> payments_pb2.DashboardLinkResponse:
        url = await payments.dashboard_link(
            self.db, self.stripe, tenant_id=current_principal().tenant_id
        )
        return payments_pb2.DashboardLinkResponse(url=url)

    async def ListPayments(
        self, request: payments_pb2.ListPaymentsRequest, context: grpc.aio.ServicerContext
    ) -> payments_pb2.ListPaymentsResponse:
        async with self.db.reader() as uow:
            page = await payment_store.list_page(uow, PageQuery.from_proto(request.page))
        return payments_pb2.ListPaymentsResponse(
            items=[to_proto(p, payments_pb2.Payment) for p in page.items], meta=page.meta()
        )
