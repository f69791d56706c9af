"""SQL for campaigns and their recipients (claimed with FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.backoffice.store.tenant_directory import metadata, tenant_directory
from services.backoffice.store.waitlist import waitlist
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row, from_rows

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("segment", Text, nullable=False),
    Column("plan", Text),
    Column("status", Text, nullable=False),
    Column("scheduled_at", DateTime(timezone=True)),
    Column("created_by_staff_id", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)

campaign_recipients = Table(
    "campaign_recipients",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("campaign_id", BigInteger, ForeignKey("backoffice.campaigns.id"), nullable=False),
    Column("email", Text, nullable=False),
    Column("tenant_id", BigInteger),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_at", DateTime(timezone=True)),
    Column("email_id", BigInteger),
    Column("error", Text),
    Column("sent_at", DateTime(timezone=True)),
)

CAMPAIGNS_ORDER = Keyset("backoffice.campaigns", id=campaigns.c.id, descending=True)
RECIPIENTS_ORDER = Keyset("backoffice.campaign_recipients", id=campaign_recipients.c.id)
OPEN = ("pending", "sending")


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    subject: str
    body: str
    segment: str
    plan: str | None
    status: str
    scheduled_at: datetime | None
    created_by_staff_id: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class RecipientRow:
    id: int
    campaign_id: int
    email: str
    tenant_id: int | None
    status: str
    attempts: int
    email_id: int | None
    error: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class Counts:
    total: int = 0
    pending: int = 0
    sent: int = 0
    failed: int = 0


async def add(conn: AsyncConnection, **values: Any) -> CampaignRow:
    statement = insert(campaigns).values(**values).returning(campaigns)
    return from_row(CampaignRow, (await conn.execute(statement)).one())


async def get(conn: AsyncConnection, campaign_id: int, lock: bool = False) -> CampaignRow | None:
    query = select(campaigns).where(campaigns.c.id == campaign_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).one_or_none()
    return from_row(CampaignRow, row) if row else None


async def update_campaign(conn: AsyncConnection, campaign_id: int, **values: Any) -> CampaignRow:
    statement = update(campaigns).where(campaigns.c.id == campaign_id).values(**values)
    return from_row(CampaignRow, (await conn.execute(statement.returning(campaigns))).one())


async def delete_draft(conn: AsyncConnection, campaign_id: int) -> None:
    await conn.execute(
        delete(campaigns).where(campaigns.c.id == campaign_id, campaigns.c.status == "draft")
    )


async def list_page(
    conn: AsyncConnection, status: str | None, page: PageQuery
) -> Page[CampaignRow]:
    query = select(campaigns)
    if status is not None:
        query = query.where(campaigns.c.status == status)
    rows = await paginate(conn, query, CAMPAIGNS_ORDER, page)
    return rows.map(lambda row: from_row(CampaignRow, row))


async def counts_of(conn: AsyncConnection, campaign_ids: list[int]) -> dict[int, Counts]:
    r = campaign_recipients
    query = (
        select(r.c.campaign_id, r.c.status, func.count())
        .where(r.c.campaign_id.in_(campaign_ids))
        .group_by(r.c.campaign_id, r.c.status)
    )
    tallies: dict[int, dict[str, int]] = {}
    for campaign_id, status, count in await conn.execute(query):
        tallies.setdefault(campaign_id, {})[status] = int(count)
    return {
        cid: Counts(
            total=sum(t.values()),
            pending=t.get("pending", 0) + t.get("sending", 0),
            sent=t.get("sent", 0),
            failed=t.get("failed", 0),
        )
        for cid, t in tallies.items()
    }


async def recipients_page(
    conn: AsyncConnection, campaign_id: int, status: str | None, page: PageQuery
) -> Page[RecipientRow]:
    query = select(campaign_recipients).where(campaign_recipients.c.campaign_id == campaign_id)
    if status is not None:
        query = query.where(campaign_recipients.c.status == status)
    rows = await paginate(conn, query, RECIPIENTS_ORDER, page)
    return rows.map(lambda row: from_row(RecipientRow, row))


# ── sending ─────────────────────────────────────────────────────────────────────────────────


async def claim_due(conn: AsyncConnection, now: datetime, limit: int = 5) -> list[CampaignRow]:
    """Scheduled campaigns whose time has come; locked, so one replica starts each."""
    query = (
        select(campaigns)
        .where(campaigns.c.status == "scheduled", campaigns.c.scheduled_at <= now)
        .order_by(campaigns.c.scheduled_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return from_rows(CampaignRow, await conn.execute(query))


async def list_recipients(conn: AsyncConnection, campaign: CampaignRow) -> None:
    """The segment's addresses become the campaign's recipients (one per address)."""
    source: Any
    if campaign.segment == "waitlist":
        source = select(
            literal(campaign.id), waitlist.c.email, literal(None, BigInteger), literal("pending")
        )
    else:
        d = tenant_directory
        source = select(literal(campaign.id), d.c.owner_email, d.c.tenant_id, literal("pending"))
        if campaign.segment == "plan":
            source = source.where(d.c.plan == campaign.plan)
    columns = ["campaign_id", "email", "tenant_id", "status"]
    statement = pg_insert(campaign_recipients).from_select(columns, source)
    await conn.execute(statement.on_conflict_do_nothing())


async def claim_recipients(
    conn: AsyncConnection, now: datetime, lease_expired_before: datetime, limit: int
) -> list[tuple[RecipientRow, CampaignRow]]:
    """A batch of recipients to email now: pending ones, and ones claimed by a sender whose
    lease ran out (it crashed, or the email service was away). Marked `sending` and returned
    with their campaign; the caller commits before handing them to the email service."""
    r = campaign_recipients
    claimable = (
        select(r.c.id)
        .where(
            or_(
                r.c.status == "pending",
                and_(r.c.status == "sending", r.c.claimed_at < lease_expired_before),
            )
        )
        .order_by(r.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(r)
        .where(r.c.id.in_(claimable.scalar_subquery()))
        .values(status="sending", claimed_at=now, attempts=r.c.attempts + 1)
        .returning(r)
    )
    claimed = from_rows(RecipientRow, await conn.execute(statement))
    if not claimed:
        return []
    ids = {row.campaign_id for row in claimed}
    found = {
        c.id: c
        for c in from_rows(
            CampaignRow, await conn.execute(select(campaigns).where(campaigns.c.id.in_(ids)))
        )
    }
    return [(row, found[row.campaign_id]) for row in sorted(claimed, key=lambda x: x.id)]


async def mark_sent(conn: AsyncConnection, recipient_id: int, email_id: int, now: datetime) -> None:
    await conn.execute(
        update(campaign_recipients)
        .where(campaign_recipients.c.id == recipient_id)
        .values(status="sent", email_id=email_id, sent_at=now, error=None)
    )


async def mark_failed(conn: AsyncConnection, recipient_id: int, error: str) -> None:
    await conn.execute(
        update(campaign_recipients)
        .where(campaign_recipients.c.id == recipient_id)
        .values(status="failed", error=error)
    )


async def finish_done(conn: AsyncConnection, now: datetime) -> list[int]:
    """Campaigns being sent with no open recipient left are sent."""
    r = campaign_recipients
    still_open = exists().where(r.c.campaign_id == campaigns.c.id, r.c.status.in_(OPEN))
    statement = (
        update(campaigns)
        .where(campaigns.c.status == "sending", ~still_open)
        .values(status="sent", finished_at=now)
        .returning(campaigns.c.id)
    )
    return [int(i) for i in (await conn.execute(statement)).scalars()]
