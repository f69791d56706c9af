"""Runs the backoffice service: `python -m services.backoffice`.

The staff console (workspaces, audit log, support, knowledge base, waitlist) and the customer
side of support; the tenant directory is kept from identity's and billing's events."""

from __future__ import annotations

from services.backoffice.api.audit import AdminAuditApi
from services.backoffice.api.campaigns import AdminCampaignsApi
from services.backoffice.api.kb import AdminKbApi, HelpCentreApi
from services.backoffice.api.support import AdminSupportApi, SupportApi
from services.backoffice.api.tenants import AdminTenantsApi
from services.backoffice.api.waitlist import AdminWaitlistApi, WaitlistApi
from services.backoffice.clients.billing import BillingClient
from services.backoffice.clients.identity import IdentityClient
from services.backoffice.clients.inbox import InboxClient
from services.backoffice.clients.notifications import NotificationsClient
from services.backoffice.domain.campaigns import CampaignSender
from services.backoffice.domain.support_notices import SupportNotices
from services.backoffice.events import billing as billing_events
from services.backoffice.events import identity as identity_events
from services.backoffice.events import impersonation as impersonation_events
from services.backoffice.jobs.senders import campaign_job, support_notices_job
from services.backoffice.settings import BackofficeSettings
from services.kit.jobs import PeriodicJob
from services.kit.server import ServiceApp, ServiceContext


def servicers(ctx: ServiceContext[BackofficeSettings]) -> list[object]:
    secret = ctx.settings.internal_secret
    tenants = AdminTenantsApi(
        ctx.db, IdentityClient(secret), BillingClient(secret), InboxClient(secret)
    )
    return [
        tenants,
        AdminAuditApi(ctx.db),
        SupportApi(ctx.db),
        AdminSupportApi(ctx.db, ctx.settings.viewing_ttl),
        AdminKbApi(ctx.db, ctx.settings.public_url),
        HelpCentreApi(ctx.db),
        WaitlistApi(ctx.db, ctx.settings.waitlist_per_hour),
        AdminWaitlistApi(ctx.db),
        AdminCampaignsApi(ctx.db, NotificationsClient(secret)),
    ]


def jobs(ctx: ServiceContext[BackofficeSettings]) -> list[PeriodicJob]:
    settings = ctx.settings
    sender = CampaignSender(
        ctx.db, NotificationsClient(settings.internal_secret), lease=settings.campaign_lease
    )
    notices = SupportNotices(
        ctx.db, NotificationsClient(settings.internal_secret), settings.panel_url.rstrip("/")
    )
    return [
        campaign_job(sender, settings.campaign_tick_seconds),
        support_notices_job(notices, settings.campaign_tick_seconds),
    ]


app = ServiceApp(
    "backoffice",
    settings=BackofficeSettings,
    servicers=servicers,
    subscriptions=lambda ctx: [
        *identity_events.SUBSCRIPTIONS,
        *billing_events.SUBSCRIPTIONS,
        *impersonation_events.SUBSCRIPTIONS,
    ],
    jobs=jobs,
    # It records its own staff actions itself (services/backoffice/domain/audit.py).
    audits_impersonation=False,
)

if __name__ == "__main__":
    app.main()
