"""The campaign sender against our real notifications service (a process, reached over gRPC by
the real NotificationsClient) and its email provider fake: segments, per-recipient status,
resumption after a crash mid-send without a second email, two senders at once, and an email
service that is away. What is checked is what people see: the emails the provider received
(one per address) and the recipients' status rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from plixa.common.v1.principal_pb2 import Principal
from services.backoffice.clients.notifications import NotificationsClient
from services.backoffice.domain import campaigns
from services.backoffice.domain.campaigns import CampaignSender
from services.backoffice.store import campaigns as store
from services.backoffice.store.tenant_directory import tenant_directory
from services.backoffice.store.waitlist import waitlist
from services.kit.db import Database
from tests.backoffice_notifications import (
    Mesh,
    backoffice_database,
    delivered,
    eventually,
    notifications_mesh,
    queued_at_notifications,
    run,
)

STAFF = Principal(kind=Principal.KIND_STAFF, staff_id=7, email="ana@plixa.app")
OWNERS = {
    f"owner{i}@example.com": ("starter", "professional", "business")[i % 3] for i in range(1, 31)
}
WAITLIST = [f"early{i}@example.com" for i in range(12)]


@pytest.fixture(scope="module")
def mesh() -> Iterator[Mesh]:
    with notifications_mesh() as found:
        run(found, seed)
        yield found


async def seed(db: Database, _: NotificationsClient) -> None:
    """Owners of three plans (ten each) and a waitlist of twelve."""
    now = datetime.now(UTC)
    async with db.unit_of_work(STAFF) as uow:
        rows = [
            dict(
                tenant_id=i,
                name=f"Shop {i}",
                slug=f"shop-{i}",
                country_code="BR",
                owner_user_id=100 + i,
                owner_email=email,
                registered_at=now,
                status="active",
                plan=plan,
                members=1,
            )
            for i, (email, plan) in enumerate(OWNERS.items(), start=1)
        ]
        await uow.conn.execute(insert(tenant_directory), rows)
        await uow.conn.execute(
            insert(waitlist), [dict(email=email, created_at=now) for email in WAITLIST]
        )


async def new_campaign(db: Database, **changes: Any) -> int:
    """A campaign as staff make it; the earlier tests' campaigns are gone first, so each test
    has the senders to itself."""
    async with db.unit_of_work(STAFF) as uow:
        await uow.conn.execute(store.campaign_recipients.delete())
        await uow.conn.execute(store.campaigns.delete())
    return await campaign(db, **changes)


async def campaign(db: Database, **changes: Any) -> int:
    values: dict[str, Any] = dict(
        name="Launch",
        subject="Plixa is live",
        body="Hello!\n\nWe are live.",
        segment="owners",
        plan=None,
        send_now=True,
        scheduled_at=None,
    )
    values.update(changes)
    async with db.unit_of_work(STAFF) as uow:
        return (await campaigns.create(uow, **values)).row.id


def keys_of(campaign_id: int) -> str:
    """The prefix of the Idempotency-Key the provider gets for this campaign's emails."""
    return f"ext:backoffice-campaign-{campaign_id}-"


async def statuses(db: Database, campaign_id: int) -> Counter[str]:
    r = store.campaign_recipients
    async with db.reader(STAFF) as uow:
        rows = await uow.conn.execute(select(r.c.status).where(r.c.campaign_id == campaign_id))
        return Counter(row[0] for row in rows)


async def campaign_status(db: Database, campaign_id: int) -> str:
    async with db.reader(STAFF) as uow:
        row = await store.get(uow.conn, campaign_id)
    assert row is not None
    return row.status


def addresses(emails: list[dict[str, Any]]) -> Counter[str]:
    return Counter(to for email in emails for to in email["to"])


def test_a_plan_segment_reaches_exactly_its_owners(mesh: Mesh) -> None:
    async def scenario(db: Database, notifications: NotificationsClient) -> None:
        cid = await new_campaign(db, segment="plan", plan="professional")
        draft = await campaign(db, send_now=False)
        later = await campaign(
            db, send_now=False, scheduled_at=datetime.now(UTC) + timedelta(hours=1)
        )
        sender = CampaignSender(db, notifications, batch=4)
        assert await sender.tick() == 10
        assert await statuses(db, cid) == Counter(sent=10)
        assert await campaign_status(db, cid) == "sent"
        emails = await delivered(mesh, db, keys_of(cid), 10)
        professional = {a for a, plan in OWNERS.items() if plan == "professional"}
        assert addresses(emails) == Counter(professional)
        (one,) = [e for e in emails if e["to"] == [sorted(professional)[0]]]
        assert one["subject"] == "Plixa is live" and one["text"] == "Hello!\n\nWe are live.\n"
        assert one["tags"] == [{"name": "template", "value": "campaign"}]
        assert (await campaign_status(db, draft), await campaign_status(db, later)) == (
            "draft",
            "scheduled",
        )
        assert await statuses(db, draft) == Counter() == await statuses(db, later)
        assert mesh.emails_keyed(keys_of(draft)) == [] == mesh.emails_keyed(keys_of(later))

    run(mesh, scenario)


def test_a_crash_mid_send_resumes_without_a_second_email(mesh: Mesh) -> None:
    async def scenario(db: Database, notifications: NotificationsClient) -> None:
        cid = await new_campaign(db, segment="waitlist")
        # The sender that crashes runs on a database of its own, as another replica would.
        crashed_db = backoffice_database(mesh, pool_size=8)
        try:
            crashed = CampaignSender(crashed_db, notifications, batch=5)
            await crashed.start_due()
            claimed = await crashed.claim()
            assert len(claimed) == 5
            claimed_ids = [recipient.id for recipient, _ in claimed]
            r = store.campaign_recipients
            async with db.engine.connect() as holder:
                # While the claimed rows are held, none of the sender's records of them can land:
                # it hands the first three over and dies before recording any of them (the last two
                # it never reached).
                await holder.execute(
                    select(r.c.id).where(r.c.id.in_(claimed_ids)).with_for_update()
                )
                sending = asyncio.create_task(crashed.deliver(claimed[:3]))

                async def three_handed_over() -> bool:
                    return len(await queued_at_notifications(db, keys_of(cid))) == 3

                await eventually(three_handed_over, "three emails handed over", every=0.02)
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
                await holder.rollback()
        finally:
            await crashed_db.dispose()
        assert await statuses(db, cid) == Counter(sending=5, pending=7)

        # Another sender meanwhile leaves the live claims alone...
        patient = CampaignSender(db, notifications, batch=50)
        assert await patient.tick() == 7
        assert await statuses(db, cid) == Counter(sent=7, sending=5)
        assert await campaign_status(db, cid) == "sending"
        # ...and once the claims' lease is over, resumes them with the same keys.
        resumed = CampaignSender(db, notifications, lease=timedelta(0))
        assert await resumed.tick() == 5
        assert await statuses(db, cid) == Counter(sent=12)
        assert await campaign_status(db, cid) == "sent"
        emails = await delivered(mesh, db, keys_of(cid), 12)
        assert addresses(emails) == Counter(WAITLIST)  # everyone once, nobody twice

    run(mesh, scenario)


def test_two_senders_at_once_email_each_recipient_once(mesh: Mesh) -> None:
    async def scenario(db: Database, notifications: NotificationsClient) -> None:
        cid = await new_campaign(db)  # every owner: 30
        senders = [CampaignSender(db, notifications, batch=3) for _ in range(3)]
        handed = await asyncio.gather(*(s.tick() for s in senders))
        assert sum(handed) == 30  # each recipient handed over by one sender only
        assert await statuses(db, cid) == Counter(sent=30)
        assert addresses(await delivered(mesh, db, keys_of(cid), 30)) == Counter(list(OWNERS))

    run(mesh, scenario)


def test_while_the_email_service_is_away_recipients_wait_and_go_out_once_back(
    mesh: Mesh,
) -> None:
    async def scenario(db: Database, notifications: NotificationsClient) -> None:
        cid = await new_campaign(db, segment="plan", plan="business")
        sender = CampaignSender(db, notifications, lease=timedelta(0), batch=50)
        mesh.stop_notifications()
        try:
            assert await sender.tick() == 0
            assert await statuses(db, cid) == Counter(sending=10)  # claimed, retried next run
            assert await campaign_status(db, cid) == "sending"
        finally:
            mesh.start_notifications()

        async def all_sent() -> bool:
            await sender.tick()  # as the periodic job does, until notifications answers again
            return await statuses(db, cid) == Counter(sent=10)

        await eventually(all_sent, "the campaign sent once notifications is back", every=1.0)
        assert await campaign_status(db, cid) == "sent"
        business = [a for a, plan in OWNERS.items() if plan == "business"]
        assert addresses(await delivered(mesh, db, keys_of(cid), 10)) == Counter(business)

    run(mesh, scenario)


def test_only_drafts_are_deleted_or_scheduled(mesh: Mesh) -> None:
    async def scenario(db: Database, notifications: NotificationsClient) -> None:
        sent = await new_campaign(db, segment="plan", plan="starter")
        draft = await campaign(db, send_now=False)
        await CampaignSender(db, notifications).tick()
        assert await campaign_status(db, sent) == "sent"
        async with db.unit_of_work(STAFF) as uow:
            with pytest.raises(Exception, match="draft"):
                await campaigns.delete_draft(uow, sent)
        async with db.unit_of_work(STAFF) as uow:
            scheduled = await campaigns.schedule(uow, draft, None)
        assert scheduled.row.status == "scheduled"
        async with db.unit_of_work(STAFF) as uow:
            with pytest.raises(Exception, match="draft"):
                await campaigns.schedule(uow, draft, None)

    run(mesh, scenario)
