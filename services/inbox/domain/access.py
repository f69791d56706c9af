"""Which conversations the caller may see: everything, or (agents of a workspace with
agent_restricted_to_own_conversations on) their own and unassigned ones."""

from __future__ import annotations

from services.inbox.domain.models import ConversationRow
from services.inbox.store import messaging as store
from services.kit.db import UnitOfWork
from services.kit.errors import not_found


async def restricted_agent(uow: UnitOfWork) -> int | None:
    """The agent's user id when their view is restricted; None when they see everything."""
    principal = uow.principal
    if principal.role != "agent" or not principal.user_id:
        return None
    if await store.agent_restricted(uow, principal.tenant_id):
        return int(principal.user_id)
    return None


def visible(row: ConversationRow, agent_id: int | None) -> bool:
    return agent_id is None or row.assigned_user_id in (None, agent_id)


async def conversation_for_caller(
    uow: UnitOfWork, conversation_id: int, lock: bool = False
) -> ConversationRow:
    """The caller's tenant's conversation, if they may see it; 404 otherwise."""
    row = await store.get_conversation(uow, uow.scope.tenant_id, conversation_id, lock=lock)
    if row is None or not visible(row, await restricted_agent(uow)):
        raise not_found("Conversation")
    return row
