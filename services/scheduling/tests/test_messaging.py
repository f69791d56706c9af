"""Reminders and waitlist offers against a real PostgreSQL (a scratch database with scheduling's
migrations) and a stand-in for inbox's client: each goes out once, replicas never double-send,
an unavailable inbox is retried with the same idempotency key, and past-start ones give up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import text

from services.kit.client import ServiceUnavailable
from services.kit.db import Database, create_engine
from services.kit.errors import DomainError
from services.kit.migrations import migrate_service
from services.scheduling.domain import messaging
from tests.databases import scratch_database

NOW = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)


@dataclass
class FixedClock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


@dataclass
class FakeInbox:
    """Records sends; `failures` raise before sending, in order."""

    sent: list[tuple[int, int, str, str, str]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    delay: float = 0.0

    async def send_to_contact(
        self, tenant_id: int, contact_id: int, phone: str, text: str, idempotency_key: str
    ) -> int:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((tenant_id, contact_id, phone, text, idempotency_key))
        return 1


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with scratch_database("plixa_sched") as url:
        asyncio.run(migrate_service("scheduling", url))
        yield url


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(
        create_engine(database_url, "scheduling", pool_size=8), "scheduling", FixedClock()
    )
    async with database.engine.begin() as conn:
        await conn.execute(
            text("TRUNCATE appointments, reminders, waitlist, waitlist_offers, services CASCADE")
        )
    yield database
    await database.dispose()


async def appointment(db: Database, start: datetime, contact_id: int | None = 5) -> int:
    async with db.engine.begin() as conn:
        service_id = await conn.scalar(
            text(
                "INSERT INTO services (tenant_id, name, duration_minutes, created_at, updated_at)"
                " VALUES (1, 'Cut', 60, now(), now()) RETURNING id"
            )
        )
        return int(
            await conn.scalar(
                text(
                    "INSERT INTO appointments (tenant_id, service_id, provider_id, contact_id,"
                    " start_at, end_at, block_start, block_end, timezone, status, source,"
                    " created_at, updated_at) VALUES (1, :s, 9, :c, :a, :b, :a, :b,"
                    " 'America/Sao_Paulo', 'confirmed', 'staff', now(), now()) RETURNING id"
                ),
                {"s": service_id, "c": contact_id, "a": start, "b": start + timedelta(hours=1)},
            )
        )


async def reminder(db: Database, appointment_id: int, due: datetime, offset: int = 60) -> int:
    async with db.engine.begin() as conn:
        return int(
            await conn.scalar(
                text(
                    "INSERT INTO reminders (tenant_id, appointment_id, offset_minutes, due_at,"
                    " next_attempt_at) VALUES (1, :a, :o, :d, :d) RETURNING id"
                ),
                {"a": appointment_id, "o": offset, "d": due},
            )
        )


async def status_of(db: Database, reminder_id: int) -> tuple[str, int]:
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, attempts FROM reminders WHERE id = :i"), {"i": reminder_id}
            )
        ).one()
    return row.status, row.attempts


async def test_a_due_reminder_goes_out_once(db: Database) -> None:
    appt = await appointment(db, NOW + timedelta(hours=1))
    due = await reminder(db, appt, NOW - timedelta(minutes=1))
    later = await reminder(db, appt, NOW + timedelta(minutes=30), offset=30)
    inbox = FakeInbox()
    assert await messaging.send_due_reminders(db, inbox, NOW) == 1
    assert await messaging.send_due_reminders(db, inbox, NOW) == 0
    [(tenant, contact, phone, body, key)] = inbox.sent
    assert (tenant, contact, phone, key) == (1, 5, "", f"scheduling:reminder:{due}")
    assert "Cut on 2027-04-01 at 10:00" in body  # the provider's wall clock
    assert await status_of(db, due) == ("sent", 1)
    assert await status_of(db, later) == ("pending", 0)


async def test_replicas_never_send_the_same_reminder_twice(db: Database) -> None:
    appt = await appointment(db, NOW + timedelta(hours=2))
    ids = [await reminder(db, appt, NOW - timedelta(minutes=i), offset=60 + i) for i in range(6)]
    inbox = FakeInbox(delay=0.05)
    counts = await asyncio.gather(*(messaging.send_due_reminders(db, inbox, NOW) for _ in range(4)))
    assert sum(counts) == 6
    assert sorted(k for *_, k in inbox.sent) == sorted(f"scheduling:reminder:{i}" for i in ids)


async def test_an_unavailable_inbox_is_retried_with_the_same_key(db: Database) -> None:
    appt = await appointment(db, NOW + timedelta(hours=5))
    due = await reminder(db, appt, NOW - timedelta(minutes=1))
    inbox = FakeInbox(failures=[ServiceUnavailable("inbox", grpc.StatusCode.UNAVAILABLE)])
    assert await messaging.send_due_reminders(db, inbox, NOW) == 0
    assert await status_of(db, due) == ("pending", 1)
    assert await messaging.send_due_reminders(db, inbox, NOW) == 0
    later = NOW + timedelta(minutes=1)
    assert await messaging.send_due_reminders(db, inbox, later) == 1
    assert [k for *_, k in inbox.sent] == [f"scheduling:reminder:{due}"]


async def test_refusals_and_missing_contacts_fail_without_retry(db: Database) -> None:
    appt = await appointment(db, NOW + timedelta(hours=5))
    refused = await reminder(db, appt, NOW - timedelta(minutes=1))
    no_contact = await reminder(db, await appointment(db, NOW + timedelta(hours=6), None), NOW)
    inbox = FakeInbox(failures=[DomainError("NO_CONNECTED_NUMBER", "No number.", 400)])
    await messaging.send_due_reminders(db, inbox, NOW)
    assert await status_of(db, refused) == ("failed", 1)
    assert await status_of(db, no_contact) == ("failed", 1)
    assert inbox.sent == []


async def test_waitlist_offer_goes_out_once(db: Database) -> None:
    appt = await appointment(db, NOW + timedelta(days=1))
    async with db.engine.begin() as conn:
        entry = await conn.scalar(
            text(
                "INSERT INTO waitlist (tenant_id, service_id, phone, status, created_at)"
                " VALUES (1, 1, '+5511999990000', 'offered', now()) RETURNING id"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO waitlist_offers (tenant_id, entry_id, appointment_id, text,"
                " next_attempt_at) VALUES (1, :e, :a, 'A slot opened', :n)"
            ),
            {"e": entry, "a": appt, "n": NOW},
        )
    inbox = FakeInbox()
    assert await messaging.send_due_offers(db, inbox, NOW) == 1
    assert await messaging.send_due_offers(db, inbox, NOW) == 0
    [(tenant, contact, phone, body, key)] = inbox.sent
    assert (tenant, contact, phone, body) == (1, 0, "+5511999990000", "A slot opened")
    assert key.startswith("scheduling:waitlist-offer:")
