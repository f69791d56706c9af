"""The conversations a catalogue delete changes through a foreign key (a label detached by the
cascade, a sector or contact set null), found and locked before the delete."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select

from services.inbox.domain.models import ConversationRow
from services.inbox.store import messaging
from services.inbox.store.tables import conversation_labels, conversations
from services.kit.db import UnitOfWork


async def locked_where(uow: UnitOfWork, condition: ColumnElement[bool]) -> list[ConversationRow]:
    """The workspace's conversations matching `condition`, locked until the commit (the same
    lock inbox core takes before changing a conversation, so the two serialise)."""
    tenant_id = uow.scope.tenant_id
    ids = list(
        await uow.conn.scalars(uow.scope.select(conversations, conversations.c.id).where(condition))
    )
    if not ids:
        return []
    return await messaging.get_conversations(uow, tenant_id, ids, lock=True)


async def locked_with_label(uow: UnitOfWork, label_id: int) -> list[ConversationRow]:
    carriers = select(conversation_labels.c.conversation_id).where(
        conversation_labels.c.label_id == label_id,
        conversation_labels.c.tenant_id == uow.scope.tenant_id,
    )
    return await locked_where(uow, conversations.c.id.in_(carriers))


async def touched(uow: UnitOfWork, ids: list[int], now: datetime) -> list[ConversationRow]:
    """Stamps updated_at on conversations the delete changed; their rows as they are now."""
    if not ids:
        return []
    await uow.conn.execute(
        uow.scope.update(conversations).where(conversations.c.id.in_(ids)).values(updated_at=now)
    )
    return await messaging.get_conversations(uow, uow.scope.tenant_id, ids)
