"""Deleting a label, sector or contact changes the conversations that pointed at it (through
the foreign keys). Each such conversation is announced on inbox.conversation.updated with the
changed field and a reason, like every other conversation change. The delete locks them first
(store.catalogue_conversations), then deletes, then calls `announce`."""

from __future__ import annotations

from services.inbox.domain import events
from services.inbox.domain.models import ConversationRow
from services.inbox.store import catalogue_conversations as store
from services.kit.db import UnitOfWork


async def announce(uow: UnitOfWork, affected: list[ConversationRow], reason: str) -> None:
    after = await store.touched(uow, [row.id for row in affected], uow.clock.now())
    before = {row.id: row for row in affected}
    actor = uow.principal.user_id or None
    for row in after:
        events.conversation_updated(uow, before[row.id], row, reason, actor_user_id=actor)
