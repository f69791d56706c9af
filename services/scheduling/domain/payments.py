"""Deposits: a checkout through billing's internal gRPC (plan booking_deposits, declared on the
route), and billing.deposit.paid marking the appointment's deposit paid (once: the kit's
consumer records each event id)."""

from __future__ import annotations

import logging

from services.kit.client import Unimplemented
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, conflict
from services.scheduling.clients.billing import Billing
from services.scheduling.domain import appointments
from services.scheduling.store import appointments as store
from services.scheduling.store import catalogue as catalogue_store
from services.scheduling.store.appointments import AppointmentRow

log = logging.getLogger("plixa.scheduling.payments")


class Deposits:
    def __init__(self, billing: Billing | None = None) -> None:
        self.billing = billing

    async def payment_link(self, db: Database, appointment_id: int) -> AppointmentRow:
        # The appointment stays locked while billing answers: a burst of clicks is served one
        # after another, so each gets the open checkout the first one stored (billing's own
        # check-then-create can otherwise open two checkouts for one appointment), and only the
        # first changes (and announces) anything.
        async with db.unit_of_work() as uow:
            row = await appointments.get(uow, appointment_id, lock=True)
            service = await catalogue_store.get_service(uow, row.service_id)
            if row.status not in ("pending_approval", "confirmed"):
                raise appointments.invalid_transition("charged a deposit", row.status)
            if row.deposit_cents <= 0:
                raise conflict("NO_DEPOSIT", "This appointment's service takes no deposit.")
            if row.deposit_status == "paid":
                raise conflict("DEPOSIT_PAID", "The deposit is already paid.")
            if self.billing is None:
                raise _unavailable()
            currency = service.currency.strip() if service else "BRL"
            name = service.name if service else "appointment"
            try:
                checkout = await self.billing.deposit_checkout(
                    row.tenant_id, row.id, row.deposit_cents, currency, f"Deposit: {name}"
                )
            except Unimplemented:
                raise _unavailable() from None
            if (row.checkout_id, row.payment_url) == (checkout.checkout_id, checkout.url):
                return row  # a retry: billing answered the open checkout; nothing changed
            row = await store.update_appointment(
                uow,
                row.id,
                row.tenant_id,
                {"payment_url": checkout.url, "checkout_id": checkout.checkout_id},
            )
            appointments.emit_updated(uow, row, name, "deposit_requested")
        return row


def _unavailable() -> DomainError:
    return DomainError(
        "SERVICE_UNAVAILABLE",
        "Deposits are not available right now. Try again shortly.",
        503,
        retry_after_seconds=30,
    )


async def mark_deposit_paid(uow: UnitOfWork, tenant_id: int, appointment_id: int) -> None:
    """billing.deposit.paid: the deposit is paid (a second delivery changes nothing)."""
    row = await store.get_appointment(uow, appointment_id, tenant_id, lock=True)
    if row is None:
        log.warning("deposit paid for unknown appointment %s", appointment_id)
        return
    if row.deposit_status == "paid":
        return
    row = await store.update_appointment(uow, row.id, tenant_id, {"deposit_status": "paid"})
    service = await catalogue_store.get_service_of(uow, tenant_id, row.service_id)
    appointments.emit_updated(uow, row, service.name if service else "", "deposit_paid")
