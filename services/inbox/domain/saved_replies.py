"""Saved replies: the owner's curated canned messages every member composes from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.inbox.domain.catalogue_models import SavedReply
from services.inbox.domain.catalogue_ordering import reorder as reorder_list
from services.inbox.store import saved_replies as store
from services.inbox.store.catalogue_ordering import next_position
from services.inbox.store.catalogue_tables import saved_replies
from services.kit.db import UnitOfWork
from services.kit.errors import not_found
from services.kit.paging import Page, PageQuery
from services.kit.protos import checked_change
from services.kit.rows import UNSET, Unset
from services.kit.validation import Checker

LABEL_MAX = 60
BODY_MAX = 4096


@dataclass(frozen=True)
class SavedReplyUpdate:
    label: str | Unset | None = UNSET
    body: str | Unset | None = UNSET


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[SavedReply]:
    return await store.list_page(uow, page)


async def create(uow: UnitOfWork, *, label: str, body: str) -> SavedReply:
    check = Checker()
    label = check.text("label", label, max_len=LABEL_MAX)
    body = check.text("body", body, max_len=BODY_MAX)
    check.done()
    position = await next_position(uow, saved_replies)
    return await store.add(uow, label=label, body=body, position=position, now=uow.clock.now())


async def update(uow: UnitOfWork, reply_id: int, asked: SavedReplyUpdate) -> SavedReply:
    check = Checker()
    changes = store.SavedReplyChanges(
        label=checked_change(
            check, "label", asked.label, lambda f, v: check.text(f, v, max_len=LABEL_MAX)
        ),
        body=checked_change(
            check, "body", asked.body, lambda f, v: check.text(f, v, max_len=BODY_MAX)
        ),
    )
    check.done()
    if changes != store.SavedReplyChanges():
        changes = store.SavedReplyChanges(
            label=changes.label, body=changes.body, updated_at=uow.clock.now()
        )
    reply = await store.update(uow, reply_id, changes)
    if reply is None:
        raise not_found("Saved reply")
    return reply


async def delete(uow: UnitOfWork, reply_id: int) -> None:
    if not await store.delete(uow, reply_id):
        raise not_found("Saved reply")


async def reorder(uow: UnitOfWork, ids: Iterable[int]) -> list[SavedReply]:
    await reorder_list(uow, saved_replies, ids)
    return await store.all_in_order(uow)
