"""BillingInternal: licences for the backoffice, the subscription for other services, deposit
checkouts for scheduling. Only signed service principals may call it (the kit enforces it)."""

from __future__ import annotations

from datetime import datetime

import grpc

from plixa.billing.v1 import billing_pb2, internal_pb2, internal_pb2_grpc
from services.billing.api.billing import subscription_to_proto
from services.billing.clients.stripe_api import StripeApi
from services.billing.domain import licenses, payments, subscriptions
from services.billing.domain.subscriptions import BillingConfig
from services.billing.store.licenses import License
from services.kit.db import Database
from services.kit.protos import to_proto


def license_to_proto(license: License, now: datetime) -> internal_pb2.License:
    return to_proto(
        license,
        internal_pb2.License,
        plan_key=license.plan,
        status=license.status(now),
    )


class BillingInternalApi(internal_pb2_grpc.BillingInternalServicer):
    def __init__(self, db: Database, stripe: StripeApi, config: BillingConfig) -> None:
        self.db = db
        self.stripe = stripe
        self.config = config

    async def GrantLicense(
        self, request: internal_pb2.GrantLicenseRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.License:
        async with self.db.unit_of_work() as uow:
            license = await licenses.grant(
                uow,
                tenant_id=request.tenant_id,
                plan=request.plan_key.strip(),
                months=request.expires_in_months,
                staff_id=request.staff_id,
                grace=self.config.grace,
            )
            now = uow.clock.now()
        return license_to_proto(license, now)

    async def RevokeLicense(
        self, request: internal_pb2.RevokeLicenseRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.License:
        async with self.db.unit_of_work() as uow:
            license = await licenses.revoke(
                uow,
                tenant_id=request.tenant_id,
                staff_id=request.staff_id,
                grace=self.config.grace,
            )
            now = uow.clock.now()
        return license_to_proto(license, now)

    async def GetSubscription(
        self, request: internal_pb2.GetSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Subscription:
        async with self.db.reader() as uow:
            view = await subscriptions.view(uow, request.tenant_id, self.config.grace)
        return subscription_to_proto(view)

    async def CreateDepositCheckout(
        self,
        request: internal_pb2.CreateDepositCheckoutRequest,
        context: grpc.aio.ServicerContext,
    ) -> internal_pb2.CreateDepositCheckoutResponse:
        payment = await payments.create_deposit_checkout(
            self.db,
            self.stripe,
            self.config,
            tenant_id=request.tenant_id,
            appointment_id=request.appointment_id,
            amount_cents=request.amount_cents,
            currency=request.currency,
            description=request.description,
        )
        return internal_pb2.CreateDepositCheckoutResponse(
            url=payment.url, checkout_id=payment.checkout_id, payment_id=payment.id
        )
