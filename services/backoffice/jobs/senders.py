"""The campaign sender and the support notices, every few seconds (one replica at a time; the
claims make them safe even without that)."""

from __future__ import annotations

from services.backoffice.domain.campaigns import CampaignSender
from services.backoffice.domain.support_notices import SupportNotices
from services.kit.jobs import PeriodicJob


def campaign_job(sender: CampaignSender, every: float) -> PeriodicJob:
    async def run() -> None:
        await sender.tick()

    return PeriodicJob("send_campaigns", every=every, run=run)


def support_notices_job(notices: SupportNotices, every: float) -> PeriodicJob:
    return PeriodicJob("support_notices", every=every, run=notices.tick)
