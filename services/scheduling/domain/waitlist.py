"""The waitlist: the AI adds customers when nothing is free; a cancellation offers the freed
slot to the first matching entry over WhatsApp (through inbox, by the offers job)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.kit.db import UnitOfWork
from services.kit.errors import invalid
from services.kit.validation import Checker
from services.scheduling.store import catalogue as catalogue_store
from services.scheduling.store import waitlist as store
from services.scheduling.store.appointments import AppointmentRow


async def join(
    uow: UnitOfWork,
    service_id: int,
    provider_id: int | None,
    contact_id: int | None,
    phone: str,
    notes: str,
) -> store.EntryRow:
    check = Checker()
    phone = check.text("phone", phone, required=False, max_len=32)
    notes = check.text("notes", notes, required=False, max_len=2000)
    if not contact_id and not phone:
        check.fail("contact_id", "A contact_id or a phone is required.", "required")
    check.done()
    service = await catalogue_store.get_service(uow, service_id)
    if service is None:
        raise invalid("service_id", "No such service in this workspace.", "exists")
    if provider_id is not None and provider_id not in service.provider_ids:
        raise invalid("provider_id", "That member does not give this service.", "exists")
    return await store.add_entry(
        uow,
        {
            "service_id": service_id,
            "provider_id": provider_id,
            "contact_id": contact_id,
            "phone": phone,
            "notes": notes,
        },
    )


def offer_text(service_name: str, row: AppointmentRow) -> str:
    local = row.start_at.astimezone(ZoneInfo(row.timezone))
    return (
        f"Good news: a slot for {service_name} opened up on {local:%Y-%m-%d} at {local:%H:%M}. "
        "Reply here to book it."
    )


async def offer_freed_slot(uow: UnitOfWork, row: AppointmentRow) -> store.EntryRow | None:
    """In the cancellation's transaction: the first waiting entry is marked offered and its
    message queued, so the offer goes out exactly when the cancellation commits."""
    if row.start_at <= uow.clock.now():
        return None
    entry = await store.first_waiting(uow, row.tenant_id, row.service_id, row.provider_id)
    if entry is None:
        return None
    service = await catalogue_store.get_service(uow, row.service_id)
    name = service.name if service else "your appointment"
    await store.mark_offered(uow, entry, row.id, offer_text(name, row))
    return entry
