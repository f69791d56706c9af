"""Sectors: the departments conversations are routed to, each with its assigned agents."""

from __future__ import annotations

from dataclasses import dataclass

from services.inbox.domain import catalogue_conversations
from services.inbox.domain import catalogue_rules as rules
from services.inbox.domain.catalogue_models import Sector, SectorRecord
from services.inbox.store import catalogue_conversations as conversation_store
from services.inbox.store import sectors as store
from services.inbox.store.catalogue_ordering import NameTaken, next_position
from services.inbox.store.tables import conversations
from services.inbox.store.tables import sectors as sectors_table
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, FieldProblem, conflict, not_found, validation_failed
from services.kit.paging import Page, PageQuery
from services.kit.protos import checked_change
from services.kit.rows import UNSET, Unset
from services.kit.validation import Checker

NAME_MAX = 60
DESCRIPTION_MAX = 255


@dataclass(frozen=True)
class SectorUpdate:
    """What a PUT asks for: UNSET was not sent; `user_ids` sent replaces the agents."""

    name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    user_ids: list[int] | Unset = UNSET


def require_members(user_ids: list[int], members: set[int], field: str = "user_ids") -> list[int]:
    """The ids, sorted and once each, when every one is a member of the workspace (as identity
    answered); else a 422 naming each position that is not (another workspace's user is as
    unknown as a made-up id)."""
    problems = [
        FieldProblem(f"{field}.{index}", "This user is not a member of the workspace.")
        for index, user_id in enumerate(user_ids)
        if user_id not in members
    ]
    if problems:
        raise validation_failed(problems)
    return sorted(set(user_ids))


def _taken() -> DomainError:
    return conflict("SECTOR_EXISTS", "A sector with this name already exists.", "name")


async def _complete(uow: UnitOfWork, records: list[SectorRecord]) -> list[Sector]:
    members = await store.members_of(uow, [r.id for r in records])
    return [
        Sector(
            id=r.id,
            tenant_id=r.tenant_id,
            name=r.name,
            description=r.description,
            position=r.position,
            created_at=r.created_at,
            updated_at=r.updated_at,
            user_ids=members.get(r.id, []),
        )
        for r in records
    ]


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[Sector]:
    found = await store.list_page(uow, page)
    return Page(await _complete(uow, found.items), found.next_cursor, found.has_more, found.limit)


def check_fields(
    check: Checker, name: str | Unset | None, description: str | Unset | None
) -> tuple[str | Unset, str | Unset | None]:
    checked_name = checked_change(
        check, "name", name, lambda f, v: check.text(f, v, max_len=NAME_MAX)
    )
    checked_description: str | Unset | None = UNSET
    if description is not UNSET:
        checked_description = rules.optional_text(
            check, "description", description, max_len=DESCRIPTION_MAX
        )
    return checked_name, checked_description


async def create(
    uow: UnitOfWork, *, name: str, description: str | None, user_ids: list[int]
) -> Sector:
    """`user_ids` must already be checked against the workspace's members (require_members)."""
    check = Checker()
    checked_name, checked_description = check_fields(check, name, description)
    check.done()
    assert not isinstance(checked_name, Unset) and not isinstance(checked_description, Unset)
    position = await next_position(uow, sectors_table)
    try:
        record = await store.add(
            uow,
            name=checked_name,
            description=checked_description,
            position=position,
            now=uow.clock.now(),
        )
    except NameTaken:
        raise _taken() from None
    await store.replace_members(uow, record.id, sorted(set(user_ids)))
    return (await _complete(uow, [record]))[0]


async def update(uow: UnitOfWork, sector_id: int, asked: SectorUpdate) -> Sector:
    """`asked.user_ids` must already be checked against the workspace's members."""
    check = Checker()
    name, description = check_fields(check, asked.name, asked.description)
    check.done()
    if await store.get(uow, sector_id, lock=True) is None:
        raise not_found("Sector")
    changes = store.SectorChanges(name=name, description=description, updated_at=uow.clock.now())
    try:
        record = await store.update(uow, sector_id, changes)
    except NameTaken:
        raise _taken() from None
    assert record is not None  # locked above
    if not isinstance(asked.user_ids, Unset):
        await store.replace_members(uow, sector_id, sorted(set(asked.user_ids)))
    return (await _complete(uow, [record]))[0]


async def delete(uow: UnitOfWork, sector_id: int) -> None:
    """Its conversations keep their history and lose the sector (the FK sets it null); each is
    announced."""
    affected = await conversation_store.locked_where(uow, conversations.c.sector_id == sector_id)
    if not await store.delete(uow, sector_id):
        raise not_found("Sector")
    await catalogue_conversations.announce(uow, affected, "sector_deleted")
