"""The conversation lifecycle: listing, reading, editing, snoozing, labels, bulk actions, the
handler's compare-and-set, and what identity's events ask of us."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, literal_column, or_, select, text

from services.inbox.domain import events
from services.inbox.domain.access import conversation_for_caller, restricted_agent, visible
from services.inbox.domain.models import HANDLERS, ConversationRow, MessageRow
from services.inbox.store import messaging as store
from services.inbox.store.tables import conversation_labels, conversations, messages
from services.kit.db import UnitOfWork
from services.kit.errors import FieldProblem, invalid, not_found, validation_failed
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import UNSET, Unset, from_row

CONVERSATIONS_ORDER = Keyset(
    "inbox.conversations",
    id=conversations.c.id,
    sort=conversations.c.last_activity_at,
    descending=True,
)
MESSAGES_ORDER = Keyset(
    "inbox.messages", id=messages.c.id, sort=messages.c.sent_at, descending=True
)
LABEL_IDS_COLUMN: Any = literal_column(
    "coalesce(ARRAY(SELECT cl.label_id FROM inbox.conversation_labels cl"
    " WHERE cl.conversation_id = inbox.conversations.id ORDER BY cl.label_id), '{}')"
).label("label_ids")


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    snoozed: bool | None = None
    assignee_id: int | None = None
    unassigned: bool | None = None
    label_id: int | None = None
    sector_id: int | None = None
    search: str | None = None


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_page(uow: UnitOfWork, filters: Filters, page: PageQuery) -> Page[ConversationRow]:
    tenant_id = uow.scope.tenant_id
    c = conversations.c
    query: Select[Any] = select(conversations, LABEL_IDS_COLUMN).where(c.tenant_id == tenant_id)
    if filters.status:
        query = query.where(c.status == filters.status)
    if filters.snoozed:
        query = query.where(c.snoozed_until.is_not(None))
    else:
        query = query.where(c.snoozed_until.is_(None))
    if filters.unassigned:
        query = query.where(c.assigned_user_id.is_(None))
    elif filters.assignee_id is not None:
        query = query.where(c.assigned_user_id == filters.assignee_id)
    if filters.sector_id is not None:
        query = query.where(c.sector_id == filters.sector_id)
    if filters.label_id is not None:
        query = query.where(
            exists().where(
                and_(
                    conversation_labels.c.conversation_id == c.id,
                    conversation_labels.c.label_id == filters.label_id,
                )
            )
        )
    agent_id = await restricted_agent(uow)
    if agent_id is not None:
        query = query.where(or_(c.assigned_user_id.is_(None), c.assigned_user_id == agent_id))
    term = (filters.search or "").strip()
    if term:
        pattern = _like(term.lower())
        digits = "".join(ch for ch in term if ch.isdigit())
        matches: list[Any] = [func.lower(c.contact_name).like(pattern)]
        if digits:
            matches.append(c.contact_phone.like(_like(digits)))
        words = func.plainto_tsquery(text("'simple'"), term)
        # The very expression of the messages_text_search GIN index, so the index answers.
        document: Any = literal_column(
            "to_tsvector('simple', coalesce(inbox.messages.body, '') || ' '"
            " || coalesce(inbox.messages.caption, ''))"
        )
        matches.append(
            c.id.in_(
                select(messages.c.conversation_id).where(
                    messages.c.tenant_id == tenant_id, document.op("@@")(words)
                )
            )
        )
        query = query.where(or_(*matches))
    rows = await paginate(uow.conn, query, CONVERSATIONS_ORDER, page)
    return rows.map(lambda r: from_row(ConversationRow, r))


async def messages_page(
    uow: UnitOfWork, conversation: ConversationRow, page: PageQuery
) -> Page[MessageRow]:
    query = select(messages).where(
        messages.c.tenant_id == conversation.tenant_id,
        messages.c.conversation_id == conversation.id,
    )
    rows = await paginate(uow.conn, query, MESSAGES_ORDER, page)
    return rows.map(lambda r: from_row(MessageRow, r))


async def mark_read(uow: UnitOfWork, row: ConversationRow) -> ConversationRow:
    """Opening a conversation clears its unread count (announced like any change)."""
    if row.unread_count == 0:
        return row
    after = await store.update_conversation(
        uow, row.tenant_id, row.id, unread_count=0, updated_at=uow.clock.now()
    )
    events.conversation_updated(uow, row, after, "read", actor_user_id=uow.principal.user_id)
    return after


@dataclass(frozen=True)
class ConversationChanges:
    contact_name: str | Unset | None = UNSET
    notes: str | Unset | None = UNSET
    assigned_user_id: int | Unset | None = UNSET
    sector_id: int | Unset | None = UNSET
    status: str | Unset | None = UNSET


async def update(
    uow: UnitOfWork, conversation_id: int, asked: ConversationChanges, members: set[int] | None
) -> ConversationRow:
    """`members`: the tenant's member ids when an assignee was asked for (checked by identity)."""
    row = await conversation_for_caller(uow, conversation_id, lock=True)
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {}
    if asked.contact_name is not UNSET:
        name = (asked.contact_name or "").strip()
        values["contact_name"] = name or None
    if asked.notes is not UNSET:
        values["notes"] = (asked.notes or "").strip() or None
    if asked.assigned_user_id is not UNSET:
        if asked.assigned_user_id is not None and asked.assigned_user_id not in (members or set()):
            problems.append(
                FieldProblem("assigned_user_id", "The assignee is not a member of this workspace.")
            )
        values["assigned_user_id"] = asked.assigned_user_id
    if asked.sector_id is not UNSET:
        if asked.sector_id is not None and not await store.sector_exists(
            uow, row.tenant_id, asked.sector_id
        ):
            problems.append(FieldProblem("sector_id", "The sector does not exist."))
        values["sector_id"] = asked.sector_id
    if asked.status is not UNSET:
        if asked.status not in ("open", "closed"):
            problems.append(FieldProblem("status", "The status must be open or closed.", "in"))
        else:
            values.update(_status_change(row, asked.status, uow.clock.now()))
    if problems:
        raise validation_failed(problems)
    if not values:
        return row
    values["updated_at"] = uow.clock.now()
    after = await store.update_conversation(uow, row.tenant_id, row.id, **values)
    events.conversation_updated(uow, row, after, "member", actor_user_id=uow.principal.user_id)
    return after


def _status_change(row: ConversationRow, status: str, now: datetime) -> dict[str, Any]:
    if status == row.status:
        return {}
    if status == "closed":
        return {"status": "closed", "closed_at": now}
    return {"status": "open", "closed_at": None}


async def snooze(uow: UnitOfWork, conversation_id: int, until: datetime | None) -> ConversationRow:
    row = await conversation_for_caller(uow, conversation_id, lock=True)
    now = uow.clock.now()
    if until is not None and until <= now:
        until = None  # a time already past wakes it now
    if until == row.snoozed_until:
        return row
    after = await store.update_conversation(
        uow, row.tenant_id, row.id, snoozed_until=until, updated_at=now
    )
    reason = "snoozed" if until is not None else "snooze_woken"
    events.conversation_updated(uow, row, after, reason, actor_user_id=uow.principal.user_id)
    return after


async def wake_due(uow: UnitOfWork, limit: int = 200) -> int:
    """The scheduled wake-up: clears stamps that passed, one update event each."""
    now = uow.clock.now()
    rows = await uow.conn.execute(
        text(
            "SELECT id, tenant_id FROM conversations WHERE snoozed_until IS NOT NULL"
            " AND snoozed_until <= :now ORDER BY snoozed_until LIMIT :n FOR UPDATE SKIP LOCKED"
        ),
        {"now": now, "n": limit},
    )
    woken = 0
    for found in rows.all():
        before = await store.get_conversation(uow, found.tenant_id, found.id)
        if before is None:
            continue
        after = await store.update_conversation(
            uow, found.tenant_id, found.id, snoozed_until=None, updated_at=now
        )
        events.conversation_updated(uow, before, after, "snooze_woken")
        woken += 1
    return woken


async def delete(uow: UnitOfWork, conversation_id: int) -> None:
    row = await conversation_for_caller(uow, conversation_id, lock=True)
    await store.delete_conversations(uow, row.tenant_id, [row.id])
    events.conversation_deleted(uow, row, "member", actor_user_id=uow.principal.user_id)


async def set_label(
    uow: UnitOfWork, conversation_id: int, label_id: int, attach: bool
) -> ConversationRow:
    row = await conversation_for_caller(uow, conversation_id, lock=True)
    if not await store.label_exists(uow, row.tenant_id, label_id):
        raise not_found("Label")
    if attach:
        did = await store.attach_label(uow, row.tenant_id, row.id, label_id)
    else:
        did = await store.detach_label(uow, row.tenant_id, row.id, label_id)
    if not did:
        return row  # idempotent: the same answer, no duplicate row, no event
    after = await store.update_conversation(uow, row.tenant_id, row.id, updated_at=uow.clock.now())
    events.conversation_updated(uow, row, after, "member", actor_user_id=uow.principal.user_id)
    return after


BULK_ACTIONS = ("close", "reopen", "assign", "delete", "add_label", "remove_label")


async def bulk(
    uow: UnitOfWork,
    action: str,
    ids: Sequence[int],
    assignee_id: int | None,
    label_id: int | None,
    members: set[int] | None,
) -> int:
    """Applies `action` to the caller's conversations among `ids`; others are skipped. Returns
    how many rows were affected."""
    tenant_id = uow.scope.tenant_id
    if action not in BULK_ACTIONS:
        raise invalid("action", "Unknown action.", "in")
    if action in ("add_label", "remove_label"):
        if label_id is None:
            raise invalid("label_id", "The label_id field is required for this action.", "required")
        if not await store.label_exists(uow, tenant_id, label_id):
            raise invalid("label_id", "The label does not exist.")
    if action == "assign" and assignee_id is not None and assignee_id not in (members or set()):
        raise invalid("assignee_id", "The assignee is not a member of this workspace.")
    agent_id = await restricted_agent(uow)
    rows = [
        r
        for r in await store.get_conversations(uow, tenant_id, sorted(set(ids)), lock=True)
        if visible(r, agent_id)
    ]
    now = uow.clock.now()
    actor = uow.principal.user_id or None
    if action == "delete":
        await store.delete_conversations(uow, tenant_id, [r.id for r in rows])
        for r in rows:
            events.conversation_deleted(uow, r, "bulk", actor_user_id=actor)
        return len(rows)
    affected = 0
    for r in rows:
        values: dict[str, Any] = {}
        if action == "close":
            values = _status_change(r, "closed", now)
        elif action == "reopen":
            values = _status_change(r, "open", now)
        elif action == "assign":
            if r.assigned_user_id != assignee_id:
                values = {"assigned_user_id": assignee_id}
        elif action in ("add_label", "remove_label"):
            change = store.attach_label if action == "add_label" else store.detach_label
            if await change(uow, tenant_id, r.id, label_id or 0):
                values = {"updated_at": now}
        if not values:
            continue
        values["updated_at"] = now
        after = await store.update_conversation(uow, tenant_id, r.id, **values)
        events.conversation_updated(uow, r, after, "bulk", actor_user_id=actor)
        affected += 1
    return affected


async def claim_handler(
    uow: UnitOfWork,
    tenant_id: int,
    conversation_id: int,
    expected: str,
    new: str,
    reason: str,
) -> tuple[bool, ConversationRow]:
    """Compare-and-set of the handler: one UPDATE ... WHERE handler = expected, so two
    automations can never both take one conversation."""
    problems = [
        FieldProblem(name, "Must be one of none, human, ai, flow.", "in")
        for name, value in (("expected", expected), ("new", new))
        if value not in HANDLERS
    ]
    if problems:
        raise validation_failed(problems)
    before = await store.get_conversation(uow, tenant_id, conversation_id)
    if before is None:
        raise not_found("Conversation")
    now = uow.clock.now()
    result = await uow.conn.execute(
        text(
            "UPDATE conversations SET handler = :new, updated_at = :now"
            " WHERE tenant_id = :t AND id = :i AND handler = :expected RETURNING id"
        ),
        {"new": new, "now": now, "t": tenant_id, "i": conversation_id, "expected": expected},
    )
    if result.first() is None:
        current = await store.get_conversation(uow, tenant_id, conversation_id)
        return False, current or before
    after = await store.get_conversation(uow, tenant_id, conversation_id)
    assert after is not None
    if before.handler != expected:  # changed between our read and the update: report from it
        before = ConversationRow(**{**before.__dict__, "handler": expected})
    events.conversation_updated(
        uow, before, after, "handler_claimed", handler_reason=reason or None
    )
    return True, after


async def unassign_member(uow: UnitOfWork, tenant_id: int, user_id: int) -> int:
    rows = await uow.conn.execute(
        text(
            "SELECT id FROM conversations WHERE tenant_id = :t AND assigned_user_id = :u FOR UPDATE"
        ),
        {"t": tenant_id, "u": user_id},
    )
    ids = [r.id for r in rows]
    now = uow.clock.now()
    for conversation_id in ids:
        before = await store.get_conversation(uow, tenant_id, conversation_id)
        if before is None:
            continue
        after = await store.update_conversation(
            uow, tenant_id, conversation_id, assigned_user_id=None, updated_at=now
        )
        events.conversation_updated(uow, before, after, "member_removed")
    await uow.conn.execute(
        text("DELETE FROM sector_members WHERE tenant_id = :t AND user_id = :u"),
        {"t": tenant_id, "u": user_id},
    )
    return len(ids)


ERASE_ORDER = (
    "conversation_labels",
    "contact_labels",
    "messages",
    "conversations",
    "sector_members",
    "sectors",
    "labels",
    "contacts",
    "phone_instances",
    "tenant_settings",
)


async def erase_tenant(uow: UnitOfWork, tenant_id: int) -> None:
    """identity.tenant.erased: every row of the workspace goes (catalogue's tables that hang
    off these go by their ON DELETE CASCADE)."""
    await uow.conn.execute(
        text("DELETE FROM outbound_media WHERE tenant_id = :t"), {"t": tenant_id}
    )
    for table in ERASE_ORDER:
        await uow.conn.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant_id})
