"""The Billing servicer: plans, the workspace's subscription, checkout and the portal. Who may
call each RPC is declared in proto/plixa/billing/v1/billing.proto (the kit enforces it)."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.billing.v1 import billing_pb2, billing_pb2_grpc
from services.billing.clients.stripe_api import StripeApi
from services.billing.clients.usage import UsageClient
from services.billing.domain import plans, subscriptions
from services.billing.domain.subscriptions import BillingConfig, SubscriptionView
from services.kit.db import Database
from services.kit.principal import current_principal
from services.kit.protos import to_proto


def plan_to_proto(spec: plans.PlanSpec) -> billing_pb2.Plan:
    return billing_pb2.Plan(
        key=spec.key,
        name=spec.name,
        features=list(spec.features),
        limits=spec.limits,
        intervals=list(spec.intervals),
        trial_days=spec.trial_days,
    )


def subscription_to_proto(view: SubscriptionView) -> billing_pb2.Subscription:
    return to_proto(view, billing_pb2.Subscription, features=list(view.features))


CATALOGUE = billing_pb2.ListPlansResponse(items=[plan_to_proto(p) for p in plans.PLANS.values()])


class BillingApi(billing_pb2_grpc.BillingServicer):
    def __init__(
        self,
        db: Database,
        stripe: StripeApi,
        config: BillingConfig,
        usage: UsageClient | None = None,
    ) -> None:
        self.db = db
        self.stripe = stripe
        self.config = config
        self.usage = usage

    async def ListPlans(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListPlansResponse:
        return CATALOGUE

    async def GetSubscription(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Subscription:
        tenant_id = current_principal().tenant_id
        async with self.db.reader() as uow:
            view = await subscriptions.view(uow, tenant_id, self.config.grace)
        answer = subscription_to_proto(view)
        if self.usage is not None:  # after the read: no connection held while others answer
            answer.usage.CopyFrom(await self.usage.usage(tenant_id))
        return answer

    async def CreateCheckout(
        self, request: billing_pb2.CheckoutRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.CheckoutResponse:
        checkout = await subscriptions.create_checkout(
            self.db,
            self.stripe,
            self.config,
            tenant_id=current_principal().tenant_id,
            plan=request.plan.strip(),
            interval=request.interval.strip(),
        )
        return to_proto(checkout, billing_pb2.CheckoutResponse)

    async def CreatePortalSession(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> billing_pb2.PortalResponse:
        url = await subscriptions.create_portal(
            self.db, self.stripe, self.config, tenant_id=current_principal().tenant_id
        )
        return billing_pb2.PortalResponse(url=url)
