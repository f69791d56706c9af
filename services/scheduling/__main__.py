"""Runs the scheduling service: `python -m services.scheduling`."""

from __future__ import annotations

from services.kit.client import ServiceClient
from services.kit.server import ServiceApp, ServiceContext
from services.scheduling.api.internal import SchedulingInternalApi
from services.scheduling.api.scheduling import SchedulingApi
from services.scheduling.clients.billing import Billing
from services.scheduling.clients.holidays import Holidays
from services.scheduling.clients.identity import Members
from services.scheduling.clients.inbox import Inbox
from services.scheduling.domain.appointments import Policy
from services.scheduling.domain.payments import Deposits
from services.scheduling.events import billing as billing_events
from services.scheduling.jobs import scheduling_jobs
from services.scheduling.settings import SchedulingSettings
from services.scheduling.wiring import google_links


def policy(settings: SchedulingSettings) -> Policy:
    return Policy(
        min_notice=settings.min_notice,
        horizon=settings.horizon,
        default_reminders=settings.default_reminder_offsets,
    )


def servicers(ctx: ServiceContext[SchedulingSettings]) -> list[object]:
    settings = ctx.settings
    client = ServiceClient(settings.internal_secret)
    inbox = Inbox(client)
    google = google_links(settings)
    return [
        SchedulingApi(
            ctx.db,
            Members(client),
            inbox,
            policy(settings),
            Holidays(settings.holidays_url),
            google,
            Deposits(Billing(client)),
        ),
        SchedulingInternalApi(ctx.db, inbox, policy(settings), google),
    ]


app = ServiceApp(
    "scheduling",
    settings=SchedulingSettings,
    servicers=servicers,
    subscriptions=lambda ctx: billing_events.SUBSCRIPTIONS,
    jobs=scheduling_jobs,
)

if __name__ == "__main__":
    app.main()
