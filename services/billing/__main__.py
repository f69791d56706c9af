"""Runs the billing service: `python -m services.billing`."""

from __future__ import annotations

from services.billing.api.billing import BillingApi
from services.billing.api.internal import BillingInternalApi
from services.billing.api.payments import PaymentsApi
from services.billing.api.webhooks import StripeWebhooksApi
from services.billing.clients.stripe_api import StripeApi
from services.billing.clients.usage import UsageClient
from services.billing.domain.subscriptions import BillingConfig
from services.billing.jobs.reviews import billing_jobs
from services.billing.settings import BillingSettings
from services.kit.server import ServiceApp, ServiceContext


def stripe_api(settings: BillingSettings) -> StripeApi:
    return StripeApi(
        settings.stripe_secret_key,
        settings.stripe_api_base,
        settings.stripe_webhook_secret,
        settings.stripe_max_retries,
    )


def billing_config(settings: BillingSettings) -> BillingConfig:
    return BillingConfig(
        price_ids=settings.price_ids,
        grace=settings.grace,
        panel_url=settings.panel_url,
        application_fee_bps=settings.application_fee_bps,
    )


def servicers(ctx: ServiceContext[BillingSettings]) -> list[object]:
    stripe = stripe_api(ctx.settings)
    config = billing_config(ctx.settings)
    return [
        BillingApi(ctx.db, stripe, config, UsageClient(ctx.settings.internal_secret)),
        PaymentsApi(ctx.db, stripe, config),
        BillingInternalApi(ctx.db, stripe, config),
        StripeWebhooksApi(ctx.db, stripe, config),
    ]


app = ServiceApp(
    "billing",
    settings=BillingSettings,
    servicers=servicers,
    jobs=lambda ctx: billing_jobs(ctx.db, ctx.settings.grace, ctx.settings.sweep_seconds),
)

if __name__ == "__main__":
    app.main()
