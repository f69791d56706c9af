"""The one reorder rule of the catalogue's ordered lists, over a unit of work."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Table

from services.inbox.domain.catalogue_rules import reordered
from services.inbox.store import catalogue_ordering as store
from services.kit.db import UnitOfWork


async def reorder(uow: UnitOfWork, table: Table, ids: Iterable[int]) -> None:
    """Puts the workspace's items in the order `ids` asks for (catalogue_rules.reordered: ids
    not sent keep their place, other workspaces' ids are dropped) and renumbers positions
    0, 1, 2… so the order is total. The list is locked meanwhile, so concurrent reorders
    serialise instead of interleaving."""
    current = await store.locked_order(uow, table)
    positions = dict(current)
    order = reordered([item for item, _ in current], ids)
    changes = [(item, index) for index, item in enumerate(order) if positions[item] != index]
    await store.write_positions(uow, table, changes)
