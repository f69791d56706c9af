"""Reminders and waitlist offers go out through inbox, each exactly once.

A job tick claims due rows with FOR UPDATE SKIP LOCKED (another replica skips them), sends each
with an idempotency key derived from the row, and marks it sent in the same transaction. A crash
between the send and the commit leaves the row pending; the retry sends with the same key, which
inbox answers with the first message instead of sending again. So a restart never sends twice
nor skips."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select

from services.kit.client import ServiceUnavailable, Unimplemented
from services.kit.db import Database
from services.kit.errors import DomainError
from services.kit.principal import service_principal
from services.scheduling.store import appointments as appointment_store
from services.scheduling.store import waitlist as waitlist_store
from services.scheduling.store.tables import appointments, services

log = logging.getLogger("plixa.scheduling.messaging")


class Inbox(Protocol):
    """What the jobs need of inbox's client (services/scheduling/clients/inbox.py)."""

    async def send_to_contact(
        self, tenant_id: int, contact_id: int, phone: str, text: str, idempotency_key: str
    ) -> int: ...


MAX_ATTEMPTS = 8
BATCH = 50


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(600, 5 * 2**attempts))


def reminder_text(service_name: str, start: datetime, timezone: str) -> str:
    local = start.astimezone(ZoneInfo(timezone))
    return f"Reminder: {service_name} on {local:%Y-%m-%d} at {local:%H:%M}. See you soon!"


async def _send(
    inbox: Inbox, tenant_id: int, contact_id: int, phone: str, text: str, key: str
) -> tuple[bool, str | None, bool]:
    """(sent, error, retry)."""
    try:
        await inbox.send_to_contact(tenant_id, contact_id, phone, text, key)
    except (ServiceUnavailable, Unimplemented) as exc:
        return False, type(exc).__name__, True
    except DomainError as exc:
        return False, exc.code, exc.http_status >= 500
    return True, None, False


async def send_due_reminders(db: Database, inbox: Inbox, now: datetime) -> int:
    sent = 0
    async with db.unit_of_work(service_principal("scheduling")) as uow:
        due = await appointment_store.claim_due_reminders(uow, now, BATCH)
        for reminder in due:
            row = (
                await uow.conn.execute(
                    select(
                        appointments.c.contact_id,
                        appointments.c.status,
                        appointments.c.start_at,
                        appointments.c.timezone,
                        services.c.name,
                    )
                    .select_from(
                        appointments.outerjoin(services, services.c.id == appointments.c.service_id)
                    )
                    .where(appointments.c.id == reminder.appointment_id)
                )
            ).one_or_none()
            if row is None or row.status not in ("confirmed", "pending_approval"):
                await appointment_store.finish_reminder(uow, reminder.id, "failed", now, "not live")
                continue
            if not row.contact_id:
                await appointment_store.finish_reminder(
                    uow, reminder.id, "failed", now, "no contact"
                )
                continue
            ok, error, retry = await _send(
                inbox,
                reminder.tenant_id,
                int(row.contact_id),
                "",
                reminder_text(row.name or "your appointment", row.start_at, row.timezone),
                f"scheduling:reminder:{reminder.id}",
            )
            if ok:
                sent += 1
                await appointment_store.finish_reminder(uow, reminder.id, "sent", now)
            else:
                attempts = reminder.attempts + 1
                retry_at = now + retry_delay(attempts)
                keep = retry and attempts < MAX_ATTEMPTS and retry_at < row.start_at
                log.warning("reminder %s not sent: %s", reminder.id, error)
                await appointment_store.finish_reminder(
                    uow,
                    reminder.id,
                    "pending" if keep else "failed",
                    now,
                    error,
                    retry_at if keep else None,
                )
    return sent


async def send_due_offers(db: Database, inbox: Inbox, now: datetime) -> int:
    sent = 0
    async with db.unit_of_work(service_principal("scheduling")) as uow:
        for offer in await waitlist_store.claim_due_offers(uow, now, BATCH):
            entry = await waitlist_store.get_entry(uow, offer.entry_id)
            if entry is None:
                await waitlist_store.finish_offer(uow, offer.id, now, sent=False, error="gone")
                continue
            ok, error, retry = await _send(
                inbox,
                offer.tenant_id,
                entry.contact_id or 0,
                entry.phone,
                offer.text,
                f"scheduling:waitlist-offer:{offer.id}",
            )
            if ok:
                sent += 1
                await waitlist_store.finish_offer(uow, offer.id, now, sent=True)
            else:
                attempts = offer.attempts + 1
                keep = retry and attempts < MAX_ATTEMPTS
                log.warning("waitlist offer %s not sent: %s", offer.id, error)
                await waitlist_store.finish_offer(
                    uow,
                    offer.id,
                    now,
                    sent=False,
                    error=error,
                    retry_at=now + retry_delay(attempts) if keep else None,
                )
    return sent
