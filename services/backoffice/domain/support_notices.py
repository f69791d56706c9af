"""Tells people about support activity through notifications: a new ticket is pushed to the staff
who subscribed to pushes, and a staff reply is emailed to the member who opened the ticket.

Each notice is handed over while its row stays locked (FOR UPDATE SKIP LOCKED, so replicas
share the work) and marked in the same transaction; when notifications is away nothing is
marked and the next run tries again. A reply's email carries the key
`backoffice-ticket-reply-<message>`, so a retry after a crash never sends a second one; a push
has no key, so a crash between the push and its mark may push once more (pushes are
at-least-once)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.backoffice.clients.notifications import NotificationsClient
from services.backoffice.store import support as store
from services.kit.client import ServiceUnavailable
from services.kit.db import Database
from services.kit.errors import DomainError
from services.kit.principal import ANONYMOUS

log = logging.getLogger("plixa.backoffice.support")
BATCH = 20


@dataclass
class SupportNotices:
    db: Database
    notifications: NotificationsClient
    panel_url: str = ""

    async def tick(self) -> None:
        try:
            await self.push_new_tickets()
            await self.email_staff_replies()
        except ServiceUnavailable:
            pass  # nothing was marked; the next run tries again

    async def push_new_tickets(self) -> None:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            for ticket in await store.claim_unannounced_tickets(uow.conn, BATCH):
                await self.notifications.push_to_staff(
                    title=f"New ticket #{ticket.id} ({ticket.priority})",
                    body=ticket.subject,
                    url=f"{self.panel_url}/admin/support/tickets/{ticket.id}",
                )
                await store.mark_staff_notified(uow.conn, ticket.id, uow.clock.now())

    async def email_staff_replies(self) -> None:
        async with self.db.unit_of_work(ANONYMOUS) as uow:
            for message, ticket in await store.claim_unsent_replies(uow.conn, BATCH):
                try:
                    await self.notifications.send_email(
                        template="staff_reply",
                        to=ticket.opened_by_email,
                        data={"subject": f"Re: {ticket.subject}", "text": message.body},
                        idempotency_key=f"backoffice-ticket-reply-{message.id}",
                        tenant_id=ticket.tenant_id,
                    )
                except DomainError as error:
                    if isinstance(error, ServiceUnavailable):
                        raise
                    log.warning("reply email refused: %s", error.code)  # marked: not retried
                await store.mark_customer_notified(uow.conn, message.id, uow.clock.now())
