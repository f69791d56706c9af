"""The Stripe webhook servicer: verifies the signature over the raw body with the library, then
applies the event once (services/billing/domain/webhooks.py)."""

from __future__ import annotations

import grpc

from plixa.billing.v1 import webhooks_pb2, webhooks_pb2_grpc
from services.billing.clients.stripe_api import BadSignature, StripeApi
from services.billing.domain import webhooks
from services.billing.domain.subscriptions import BillingConfig
from services.kit.db import Database
from services.kit.errors import DomainError


def invalid_signature() -> DomainError:
    return DomainError(
        "INVALID_SIGNATURE",
        "The Stripe-Signature header does not match this body.",
        400,
        grpc.StatusCode.INVALID_ARGUMENT,
    )


class StripeWebhooksApi(webhooks_pb2_grpc.StripeWebhooksServicer):
    def __init__(self, db: Database, stripe: StripeApi, config: BillingConfig) -> None:
        self.db = db
        self.stripe = stripe
        self.config = config

    async def ReceiveStripeEvent(
        self, request: webhooks_pb2.StripeWebhookRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.StripeWebhookResponse:
        signature = request.raw.headers.get("stripe-signature", "")
        try:
            event = self.stripe.verify_event(request.raw.body, signature)
        except BadSignature:
            raise invalid_signature() from None
        first = await webhooks.handle(self.db, self.stripe, self.config, event)
        return webhooks_pb2.StripeWebhookResponse(received=True, duplicate=not first)
