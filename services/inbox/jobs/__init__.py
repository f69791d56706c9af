"""Inbox's periodic work: waking snoozed conversations, delivering sends left pending, and
forgetting early receipts nobody claimed."""

from __future__ import annotations

import logging
from datetime import timedelta

from services.inbox.domain import conversations
from services.inbox.domain.outbound import Sender
from services.inbox.settings import InboxSettings
from services.inbox.store import messaging
from services.kit.db import Database
from services.kit.jobs import PeriodicJob
from services.kit.principal import ANONYMOUS
from services.kit.server import ServiceContext

log = logging.getLogger("plixa.inbox.jobs")
EARLY_RECEIPTS_KEPT = timedelta(days=1)


def wake_snoozed(db: Database, every: float) -> PeriodicJob:
    async def run() -> None:
        while True:
            async with db.unit_of_work(ANONYMOUS) as uow:
                woken = await conversations.wake_due(uow)
            if woken < 200:
                return

    return PeriodicJob("wake_snoozed_conversations", every=every, run=run)


def deliver_pending(sender: Sender, settings: InboxSettings) -> PeriodicJob:
    """A send committed but never handed to Evolution (the process died in between) is
    delivered here; one handed over whose outcome was never recorded is failed, with its retry
    path (it may have reached the customer: never sent twice blindly)."""
    older = timedelta(seconds=settings.retry_pending_after_seconds)

    # A call to Evolution is over after its timeout; a claim older than that (and the sweep's
    # own delay) means the process died during the call.
    unconfirmed = older + timedelta(seconds=settings.evolution_timeout_seconds)

    async def run() -> None:
        await sender.fail_unconfirmed(unconfirmed)
        for tenant_id, message_id in await sender.stale_pending(older):
            try:
                await sender.deliver(tenant_id, message_id)
            except Exception:
                log.exception("delivering pending message %s failed", message_id)

    return PeriodicJob("deliver_pending_messages", every=settings.sweep_seconds, run=run)


def purge_early_receipts(db: Database) -> PeriodicJob:
    """Receipts kept for a WhatsApp id that was never stored (a send from another tool on the
    same number, say) go after a day."""

    async def run() -> None:
        async with db.unit_of_work(ANONYMOUS) as uow:
            await messaging.purge_early_receipts(uow, uow.clock.now() - EARLY_RECEIPTS_KEPT)

    return PeriodicJob("purge_early_receipts", every=3600, run=run)


def inbox_jobs(ctx: ServiceContext[InboxSettings], sender: Sender) -> list[PeriodicJob]:
    return [
        wake_snoozed(ctx.db, ctx.settings.sweep_seconds),
        deliver_pending(sender, ctx.settings),
        purge_early_receipts(ctx.db),
    ]
