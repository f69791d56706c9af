"""Staff email campaigns. A campaign is a draft until scheduled (now or later); when its time
comes the sender lists the segment's addresses as recipients and emails them in batches through
notifications. Each recipient is claimed (FOR UPDATE SKIP LOCKED, committed) before its email is
handed over with the key `backoffice-campaign-<campaign>-<recipient>`; a sender that dies after
the hand-over leaves the claim to expire, and the next one hands the same key again, which
notifications answers with the email it already has: nobody is emailed twice."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.backoffice.clients.notifications import NotificationsClient, Queued
from services.backoffice.domain import audit
from services.backoffice.store import campaigns as store
from services.backoffice.store.campaigns import CampaignRow, Counts, RecipientRow
from services.kit.client import ServiceUnavailable
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, conflict, invalid, not_found
from services.kit.paging import Page, PageQuery
from services.kit.principal import ANONYMOUS
from services.kit.validation import Checker

log = logging.getLogger("plixa.backoffice.campaigns")
SEGMENTS = ("owners", "plan", "waitlist")
PLANS = ("starter", "professional", "business")
MAX_ATTEMPTS = 5
TEMPLATE = "campaign"


@dataclass(frozen=True)
class Campaign:
    row: CampaignRow
    counts: Counts = field(default_factory=Counts)


def idempotency_key(recipient: RecipientRow) -> str:
    return f"backoffice-campaign-{recipient.campaign_id}-{recipient.id}"


def _summary(row: CampaignRow) -> dict[str, str | None]:
    return {"name": row.name, "segment": row.segment, "plan": row.plan, "status": row.status}


def not_draft() -> DomainError:
    return conflict("CAMPAIGN_NOT_DRAFT", "Only a draft can be scheduled or deleted.")


async def create(
    uow: UnitOfWork,
    *,
    name: str,
    subject: str,
    body: str,
    segment: str,
    plan: str | None,
    send_now: bool,
    scheduled_at: datetime | None,
) -> Campaign:
    check = Checker()
    name = check.text("name", name, max_len=200)
    subject = check.text("subject", subject, max_len=200)
    body = check.text("body", body, max_len=50_000)
    if segment not in SEGMENTS:
        check.fail("segment", "The segment must be owners, plan or waitlist.", "in")
    if segment == "plan" and plan not in PLANS:
        check.fail("plan", "The plan segment names starter, professional or business.", "required")
    if segment != "plan" and plan is not None:
        check.fail("plan", "Only the plan segment takes a plan.", "prohibited")
    if send_now and scheduled_at is not None:
        check.fail("scheduled_at", "Send now or at a time, not both.", "prohibited")
    check.done()
    now = uow.clock.now()
    when = now if send_now else scheduled_at
    row = await store.add(
        uow.conn,
        name=name,
        subject=subject,
        body=body,
        segment=segment,
        plan=plan,
        status="draft" if when is None else "scheduled",
        scheduled_at=when,
        created_by_staff_id=audit.acting_staff(uow.principal),
        created_at=now,
    )
    await audit.record(
        uow, "campaign.created", target_type="campaign", target_id=row.id, after=_summary(row)
    )
    return Campaign(row)


async def _get(uow: UnitOfWork, campaign_id: int, lock: bool = False) -> CampaignRow:
    row = await store.get(uow.conn, campaign_id, lock=lock)
    if row is None:
        raise not_found("Campaign")
    return row


async def get(uow: UnitOfWork, campaign_id: int) -> Campaign:
    row = await _get(uow, campaign_id)
    counts = await store.counts_of(uow.conn, [row.id])
    return Campaign(row, counts.get(row.id, Counts()))


async def list_page(uow: UnitOfWork, status: str | None, page: PageQuery) -> Page[Campaign]:
    rows = await store.list_page(uow.conn, status, page)
    counts = await store.counts_of(uow.conn, [r.id for r in rows.items])
    return rows.map(lambda row: Campaign(row, counts.get(row.id, Counts())))


async def recipients(
    uow: UnitOfWork, campaign_id: int, status: str | None, page: PageQuery
) -> Page[RecipientRow]:
    await _get(uow, campaign_id)
    return await store.recipients_page(uow.conn, campaign_id, status, page)


async def schedule(uow: UnitOfWork, campaign_id: int, at: datetime | None) -> Campaign:
    before = await _get(uow, campaign_id, lock=True)
    if before.status != "draft":
        raise not_draft()
    row = await store.update_campaign(
        uow.conn, campaign_id, status="scheduled", scheduled_at=at or uow.clock.now()
    )
    await audit.record(
        uow,
        "campaign.scheduled",
        target_type="campaign",
        target_id=row.id,
        before=_summary(before),
        after={
            **_summary(row),
            "scheduled_at": row.scheduled_at.isoformat() if row.scheduled_at else None,
        },
    )
    return Campaign(row)


async def delete_draft(uow: UnitOfWork, campaign_id: int) -> None:
    row = await _get(uow, campaign_id, lock=True)
    if row.status != "draft":
        raise not_draft()
    await store.delete_draft(uow.conn, campaign_id)
    await audit.record(
        uow, "campaign.deleted", target_type="campaign", target_id=row.id, before=_summary(row)
    )


async def send_test(
    db: Database, notifications: NotificationsClient, *, subject: str, body: str, key: str
) -> tuple[str, Queued]:
    """The campaign's text to the signed-in staff member's own address."""
    check = Checker()
    subject = check.text("subject", subject, max_len=200)
    body = check.text("body", body, max_len=50_000)
    check.done()
    async with db.reader() as uow:
        to = uow.principal.email
        staff_id = audit.acting_staff(uow.principal)
    if not to:
        raise invalid("to", "Your staff account has no email address.", "required")
    queued = await notifications.send_email(
        template=TEMPLATE,
        to=to,
        data={"subject": subject, "text": body},
        idempotency_key=f"backoffice-campaign-test-{staff_id}-{key}",
    )
    async with db.unit_of_work() as uow:
        await audit.record(
            uow,
            "campaign.test_sent",
            target_type="email",
            target_id=queued.email_id,
            after={"to": to, "subject": subject},
        )
    return to, queued


# ── the sender (services/backoffice/jobs) ───────────────────────────────────────────────────


@dataclass
class CampaignSender:
    db: Database
    notifications: NotificationsClient
    lease: timedelta = timedelta(seconds=30)
    batch: int = 50
    parallel: int = 8

    async def tick(self) -> int:
        """Starts due campaigns, emails claimed recipients batch by batch, finishes the done
        ones. Returns how many recipients were handed over."""
        await self.start_due()
        handed = 0
        while True:
            claimed = await self.claim()
            if not claimed:
                break
            done, away = await self.deliver(claimed)
            handed += done
            if away:  # the email service is away: the claims expire and are retried later
                break
        await self.finish()
        return handed

    async def start_due(self) -> None:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            now = uow.clock.now()
            for campaign in await store.claim_due(uow.conn, now):
                await store.list_recipients(uow.conn, campaign)
                await store.update_campaign(uow.conn, campaign.id, status="sending", started_at=now)

    async def claim(self) -> list[tuple[RecipientRow, CampaignRow]]:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            now = uow.clock.now()
            return await store.claim_recipients(uow.conn, now, now - self.lease, self.batch)

    async def deliver(self, claimed: list[tuple[RecipientRow, CampaignRow]]) -> tuple[int, bool]:
        """Hands each claimed recipient's email over; (how many were, whether the email
        service was away). A recipient the service stayed away for MAX_ATTEMPTS claims fails."""
        gate = asyncio.Semaphore(self.parallel)

        async def one(recipient: RecipientRow, campaign: CampaignRow) -> str:
            async with gate:
                try:
                    queued = await self.notifications.send_email(
                        template=TEMPLATE,
                        to=recipient.email,
                        data={"subject": campaign.subject, "text": campaign.body},
                        idempotency_key=idempotency_key(recipient),
                        tenant_id=recipient.tenant_id or 0,
                    )
                except ServiceUnavailable:
                    if recipient.attempts >= MAX_ATTEMPTS:
                        await self._record_failure(recipient, "EMAIL_SERVICE_UNAVAILABLE")
                    return "away"
                except DomainError as error:  # the address or the data was refused
                    await self._record_failure(recipient, error.code)
                    return "failed"
            async with self.db.unit_of_work(ANONYMOUS) as uow:
                await store.mark_sent(uow.conn, recipient.id, queued.email_id, uow.clock.now())
            return "sent"

        outcomes = await asyncio.gather(*(one(r, c) for r, c in claimed))
        return outcomes.count("sent"), "away" in outcomes

    async def _record_failure(self, recipient: RecipientRow, code: str) -> None:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            await store.mark_failed(uow.conn, recipient.id, code)

    async def finish(self) -> None:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            for campaign_id in await store.finish_done(uow.conn, uow.clock.now()):
                log.info("campaign sent", extra={"campaign_id": campaign_id})
