"""Labels: owner-managed tags; deleting one detaches it from every conversation and contact."""

from __future__ import annotations

from dataclasses import dataclass

from services.inbox.domain import catalogue_conversations, contacts
from services.inbox.domain import catalogue_rules as rules
from services.inbox.domain.catalogue_models import Label
from services.inbox.store import catalogue_conversations as conversation_store
from services.inbox.store import labels as store
from services.inbox.store.catalogue_ordering import NameTaken, next_position
from services.inbox.store.tables import labels as labels_table
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, conflict, not_found
from services.kit.paging import Page, PageQuery
from services.kit.protos import checked_change
from services.kit.rows import UNSET, Unset
from services.kit.validation import Checker

NAME_MAX = 50


@dataclass(frozen=True)
class LabelUpdate:
    """What a PUT asks for: UNSET was not sent, None was null."""

    name: str | Unset | None = UNSET
    color: str | Unset | None = UNSET


def _taken() -> DomainError:
    return conflict("LABEL_EXISTS", "A label with this name already exists.", "name")


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[Label]:
    return await store.list_page(uow, page)


async def create(uow: UnitOfWork, *, name: str, color: str | None) -> Label:
    check = Checker()
    name = check.text("name", name, max_len=NAME_MAX)
    color = rules.color(check, "color", color)
    check.done()
    position = await next_position(uow, labels_table)
    try:
        return await store.add(uow, name=name, color=color, position=position, now=uow.clock.now())
    except NameTaken:
        raise _taken() from None


async def update(uow: UnitOfWork, label_id: int, asked: LabelUpdate) -> Label:
    check = Checker()
    changes = store.LabelChanges(
        name=checked_change(
            check, "name", asked.name, lambda f, v: check.text(f, v, max_len=NAME_MAX)
        ),
        color=UNSET if asked.color is UNSET else rules.color(check, "color", asked.color),
    )
    check.done()
    if changes != store.LabelChanges():
        changes = store.LabelChanges(
            name=changes.name, color=changes.color, updated_at=uow.clock.now()
        )
    try:
        label = await store.update(uow, label_id, changes)
    except NameTaken:
        raise _taken() from None
    if label is None:
        raise not_found("Label")
    return label


async def delete(uow: UnitOfWork, label_id: int) -> None:
    """The database detaches it everywhere (cascades); the conversations and contacts that lost
    it are announced."""
    affected = await conversation_store.locked_with_label(uow, label_id)
    carriers = await store.delete(uow, label_id)
    if carriers is None:
        raise not_found("Label")
    await catalogue_conversations.announce(uow, affected, "label_deleted")
    await contacts.announce_updated(uow, carriers, changed=["label_ids"])
