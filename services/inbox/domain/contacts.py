"""Contacts: the workspace's directory of customers, one per phone.

Every write announces the contact's new state on `inbox.contact.created|updated|deleted`
(through the outbox, in the same transaction)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plixa.inbox.v1 import events_pb2, inbox_pb2
from services.inbox.domain import catalogue_conversations
from services.inbox.domain import catalogue_rules as rules
from services.inbox.domain.catalogue_models import Contact, ContactRecord
from services.inbox.store import catalogue_conversations as conversation_store
from services.inbox.store import contacts as store
from services.inbox.store import labels as label_store
from services.inbox.store.tables import conversations
from services.kit.db import UnitOfWork
from services.kit.errors import not_found
from services.kit.paging import Page, PageQuery
from services.kit.protos import to_proto
from services.kit.rows import UNSET, Unset
from services.kit.validation import Checker

CREATED = "inbox.contact.created"
UPDATED = "inbox.contact.updated"
DELETED = "inbox.contact.deleted"
NAME_MAX = 255
NOTES_MAX = 5000
SEARCH_MAX = 100
PHONE_SEARCH = re.compile(r"^[0-9\s\-+().]*[0-9][0-9\s\-+().]*$")


@dataclass(frozen=True)
class ContactUpdate:
    """What a PATCH asks for: UNSET was not sent, None was null."""

    contact_name: str | Unset | None = UNSET
    notes: str | Unset | None = UNSET


async def _complete(uow: UnitOfWork, records: list[ContactRecord]) -> list[Contact]:
    """The records with their labels and custom-field values (two queries for any number)."""
    ids = [r.id for r in records]
    labels = await label_store.of_contacts(uow, ids)
    values = await store.values_of(uow, ids)
    return [
        Contact(
            id=r.id,
            tenant_id=r.tenant_id,
            phone=r.phone,
            name=r.name,
            notes=r.notes,
            created_at=r.created_at,
            updated_at=r.updated_at,
            labels=labels.get(r.id, []),
            custom_fields=values.get(r.id, []),
        )
        for r in records
    ]


async def _one(uow: UnitOfWork, record: ContactRecord) -> Contact:
    return (await _complete(uow, [record]))[0]


async def _found(uow: UnitOfWork, contact_id: int, *, lock: bool = False) -> ContactRecord:
    record = await store.get(uow, contact_id, lock=lock)
    if record is None:
        raise not_found("Contact")
    return record


def _emit(uow: UnitOfWork, subject: str, contact: Contact, changed: list[str]) -> None:
    state = to_proto(contact, inbox_pb2.ContactState)
    uow.emit(
        subject,
        events_pb2.ContactChanged(
            tenant_id=contact.tenant_id,
            contact=state,
            changed=changed,
            actor_user_id=uow.principal.user_id or None,
        ),
        tenant_id=contact.tenant_id,
    )


async def announce_updated(uow: UnitOfWork, contact_ids: list[int], changed: list[str]) -> None:
    """inbox.contact.updated for contacts another write changed (a label deleted)."""
    for contact in await _complete(uow, await store.get_many(uow, contact_ids)):
        _emit(uow, UPDATED, contact, changed)


async def list_page(
    uow: UnitOfWork, page: PageQuery, *, search: str | None, label_id: int | None
) -> Page[Contact]:
    text = (search or "").strip()
    if len(text) > SEARCH_MAX:
        check = Checker()
        check.text("search", text, max_len=SEARCH_MAX)
        check.done()
    # Digits (with the decoration people type) search phones too; words search names only.
    digits = "".join(ch for ch in text if ch.isdigit()) if PHONE_SEARCH.match(text) else ""
    found = await store.list_page(
        uow, page, search=text or None, phone_digits=digits or None, label_id=label_id
    )
    return Page(await _complete(uow, found.items), found.next_cursor, found.has_more, found.limit)


async def get(uow: UnitOfWork, contact_id: int) -> Contact:
    return await _one(uow, await _found(uow, contact_id))


async def create(uow: UnitOfWork, *, phone: str, name: str | None, notes: str | None) -> Contact:
    """Idempotent per phone: an existing contact with this phone is answered unchanged."""
    check = Checker()
    phone = rules.normalise_phone(check, "contact_phone", phone)
    name = rules.optional_text(check, "contact_name", name, max_len=NAME_MAX)
    notes = rules.optional_text(check, "notes", notes, max_len=NOTES_MAX)
    check.done()
    record, created = await store.add_or_get(
        uow, phone=phone, name=name, notes=notes, now=uow.clock.now()
    )
    contact = await _one(uow, record)
    if created:
        _emit(uow, CREATED, contact, [])
    return contact


async def update(uow: UnitOfWork, contact_id: int, asked: ContactUpdate) -> Contact:
    """Name and notes may be cleared (null or blank)."""
    check = Checker()
    changes = store.ContactChanges(
        name=_clearable(check, "contact_name", asked.contact_name, NAME_MAX),
        notes=_clearable(check, "notes", asked.notes, NOTES_MAX),
    )
    check.done()
    before = await _found(uow, contact_id, lock=True)
    changed = [
        column
        for column in ("name", "notes")
        if getattr(changes, column) is not UNSET
        and getattr(changes, column) != getattr(before, column)
    ]
    if not changed:
        return await _one(uow, before)
    after = await store.update(
        uow,
        contact_id,
        store.ContactChanges(name=changes.name, notes=changes.notes, updated_at=uow.clock.now()),
    )
    assert after is not None  # locked above
    contact = await _one(uow, after)
    _emit(uow, UPDATED, contact, changed)
    return contact


def _clearable(
    check: Checker, field: str, value: str | Unset | None, max_len: int
) -> str | Unset | None:
    if value is UNSET:
        return UNSET
    return rules.optional_text(check, field, value, max_len=max_len)


async def delete(uow: UnitOfWork, contact_id: int) -> None:
    """Its labels and field values go with it; its conversations stay, by phone, with a null
    contact (the FK), and are announced. The contact is locked before its conversations, the
    order inbound messages take them in."""
    contact = await _one(uow, await _found(uow, contact_id, lock=True))
    affected = await conversation_store.locked_where(uow, conversations.c.contact_id == contact_id)
    await store.delete(uow, contact_id)
    _emit(uow, DELETED, contact, [])
    await catalogue_conversations.announce(uow, affected, "contact_deleted")


async def attach_label(uow: UnitOfWork, contact_id: int, label_id: int) -> Contact:
    """Idempotent: attaching an attached label answers the same contact and announces nothing."""
    record = await _found(uow, contact_id, lock=True)
    if await label_store.get(uow, label_id) is None:
        raise not_found("Label")
    if not await store.attach_label(uow, contact_id, label_id, uow.clock.now()):
        return await _one(uow, record)
    return await _changed(uow, contact_id, ["label_ids"])


async def detach_label(uow: UnitOfWork, contact_id: int, label_id: int) -> Contact:
    """Idempotent: detaching a label the contact does not carry answers the same contact."""
    record = await _found(uow, contact_id, lock=True)
    if await label_store.get(uow, label_id) is None:
        raise not_found("Label")
    if not await store.detach_label(uow, contact_id, label_id):
        return await _one(uow, record)
    return await _changed(uow, contact_id, ["label_ids"])


async def set_custom_fields(uow: UnitOfWork, contact_id: int, values: Mapping[str, Any]) -> Contact:
    """Sets the values sent (text), clears those sent as null or "", skips ids that are not
    this workspace's definitions, and leaves every other value as it is."""
    check = Checker()
    asked = rules.field_values(check, values)
    check.done()
    record = await _found(uow, contact_id, lock=True)
    known = await store.existing_definitions(uow, sorted(asked))
    wanted = {d: v for d, v in asked.items() if d in known}
    if not await store.set_values(uow, contact_id, wanted, uow.clock.now()):
        return await _one(uow, record)
    return await _changed(uow, contact_id, ["custom_fields"])


async def _changed(uow: UnitOfWork, contact_id: int, changed: list[str]) -> Contact:
    record = await store.touch(uow, contact_id, uow.clock.now())
    assert record is not None  # locked by the caller
    contact = await _one(uow, record)
    _emit(uow, UPDATED, contact, changed)
    return contact
