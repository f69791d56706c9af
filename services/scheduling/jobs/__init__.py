"""Scheduling's periodic jobs: reminders, waitlist offers and holiday retries. Each is exclusive
across replicas (the kit's advisory lock) and claims its rows with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

from services.kit.client import ServiceClient
from services.kit.jobs import PeriodicJob
from services.kit.server import ServiceContext
from services.scheduling.clients.holidays import Holidays
from services.scheduling.clients.inbox import Inbox
from services.scheduling.domain import holidays, messaging
from services.scheduling.settings import SchedulingSettings
from services.scheduling.wiring import google_links


def scheduling_jobs(ctx: ServiceContext[SchedulingSettings]) -> list[PeriodicJob]:
    settings = ctx.settings
    inbox = Inbox(ServiceClient(settings.internal_secret))
    source = Holidays(settings.holidays_url)
    every = settings.jobs_every_seconds

    async def reminders() -> None:
        await messaging.send_due_reminders(ctx.db, inbox, ctx.clock.now())

    async def offers() -> None:
        await messaging.send_due_offers(ctx.db, inbox, ctx.clock.now())

    google = google_links(settings)

    async def google_busy() -> None:
        await google.sync_all(ctx.db)

    async def holiday_retries() -> None:
        await holidays.retry_unsynced(ctx.db, source, ctx.clock.now())

    return [
        PeriodicJob("send_reminders", every=every, run=reminders),
        PeriodicJob("send_waitlist_offers", every=every, run=offers),
        PeriodicJob("retry_holiday_sync", every=every, run=holiday_retries),
        PeriodicJob("sync_google_busy", every=every, run=google_busy),
    ]
