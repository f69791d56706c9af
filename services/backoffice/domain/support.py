"""Support tickets. Members see and write only their workspace's tickets (any member of it,
not only who opened one); staff see every workspace's. A member's message reopens the
conversation (status open); a staff reply awaits the customer (pending). Rating, 1 to 5, comes
only after closing. Staff mutations are audited; so are a member's, when a staff member makes
them through an impersonation token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from plixa.backoffice.v1 import events_pb2
from services.backoffice.domain import audit
from services.backoffice.store import support as store
from services.backoffice.store.support import (
    CannedRow,
    MessageRow,
    TagRow,
    TicketFilter,
    TicketRow,
    ViewerRow,
)
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, conflict, invalid, not_found
from services.kit.paging import Page, PageQuery
from services.kit.rows import UNSET, Unset

STATUSES = ("open", "pending", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class Ticket:
    row: TicketRow
    tags: list[TagRow] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    viewers: list[ViewerRow] = field(default_factory=list)


def _summary(ticket: TicketRow) -> dict[str, Any]:
    return {
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee_staff_id": ticket.assignee_staff_id,
    }


def _text(field_name: str, value: str, max_len: int) -> str:
    value = value.strip()
    if not value:
        raise invalid(field_name, f"The {field_name} field is required.", "required")
    if len(value) > max_len:
        raise invalid(field_name, f"The {field_name} may not be longer than {max_len}.", "too_long")
    return value


def ticket_closed() -> DomainError:
    return conflict("TICKET_CLOSED", "The ticket is closed; reopen it to write on it.")


async def _with_details(uow: UnitOfWork, row: TicketRow, staff: bool = False) -> Ticket:
    tags = (await store.tags_of(uow.conn, [row.id])).get(row.id, [])
    messages = await store.messages_of(uow.conn, row.id)
    viewers = await store.viewers_of(uow.conn, row.id, uow.clock.now()) if staff else []
    return Ticket(row, tags, messages, viewers)


async def _with_tags(uow: UnitOfWork, page: Page[TicketRow]) -> Page[Ticket]:
    tags = await store.tags_of(uow.conn, [t.id for t in page.items])
    return page.map(lambda row: Ticket(row, tags.get(row.id, [])))


# ── the customer side ───────────────────────────────────────────────────────────────────────


async def _own_ticket(uow: UnitOfWork, ticket_id: int, lock: bool = False) -> TicketRow:
    ticket = await store.get_ticket(uow.conn, ticket_id, uow.scope.tenant_id, lock=lock)
    if ticket is None:
        raise not_found("Ticket")
    return ticket


async def open_ticket(uow: UnitOfWork, *, subject: str, body: str, priority: str | None) -> Ticket:
    principal, now = uow.principal, uow.clock.now()
    subject, body = _text("subject", subject, 200), _text("body", body, 10_000)
    if priority is not None and priority not in PRIORITIES:
        raise invalid("priority", "The priority must be low, normal, high or urgent.", "in")
    ticket = await store.add_ticket(
        uow.conn,
        tenant_id=uow.scope.tenant_id,
        opened_by_user_id=principal.user_id,
        opened_by_email=principal.email,
        subject=subject,
        status="open",
        priority=priority or "normal",
        created_at=now,
        updated_at=now,
    )
    await _member_message(uow, ticket, body)
    uow.emit(
        "backoffice.ticket.created",
        events_pb2.TicketCreated(
            ticket_id=ticket.id,
            tenant_id=ticket.tenant_id,
            opened_by_user_id=ticket.opened_by_user_id,
            subject=ticket.subject,
            priority=ticket.priority,
        ),
    )
    await audit.record(
        uow,
        "support.ticket.opened",
        target_type="ticket",
        target_id=ticket.id,
        tenant_id=ticket.tenant_id,
        after=_summary(ticket),
    )
    return await _with_details(uow, ticket)


async def _member_message(uow: UnitOfWork, ticket: TicketRow, body: str) -> MessageRow:
    principal = uow.principal
    return await store.add_message(
        uow.conn,
        ticket_id=ticket.id,
        tenant_id=ticket.tenant_id,
        author_kind="member",
        author_id=principal.user_id,
        impersonator_staff_id=principal.impersonator_staff_id or None,
        body=body,
        created_at=uow.clock.now(),
    )


async def list_own(uow: UnitOfWork, status: str | None, page: PageQuery) -> Page[Ticket]:
    where = TicketFilter(tenant_id=uow.scope.tenant_id, status=status)
    return await _with_tags(uow, await store.list_tickets(uow.conn, where, page))


async def get_own(uow: UnitOfWork, ticket_id: int) -> Ticket:
    return await _with_details(uow, await _own_ticket(uow, ticket_id))


def _replied(ticket: TicketRow, message: MessageRow) -> events_pb2.TicketReplied:
    return events_pb2.TicketReplied(
        ticket_id=ticket.id,
        tenant_id=ticket.tenant_id,
        message_id=message.id,
        author_kind=message.author_kind,
        author_id=message.author_id,
        opened_by_user_id=ticket.opened_by_user_id,
        customer_email=ticket.opened_by_email,
        subject=ticket.subject,
    )


async def member_writes(uow: UnitOfWork, ticket_id: int, body: str) -> MessageRow:
    body = _text("body", body, 10_000)
    ticket = await _own_ticket(uow, ticket_id, lock=True)
    if ticket.status == "closed":
        raise ticket_closed()
    message = await _member_message(uow, ticket, body)
    ticket = await store.update_ticket(
        uow.conn, ticket.id, status="open", updated_at=message.created_at
    )
    uow.emit("backoffice.ticket.replied", _replied(ticket, message))
    await audit.record(
        uow,
        "support.ticket.message_added",
        target_type="ticket",
        target_id=ticket.id,
        tenant_id=ticket.tenant_id,
        after={"message_id": message.id},
    )
    return message


async def _change(uow: UnitOfWork, ticket: TicketRow, action: str, **values: Any) -> TicketRow:
    changed = await store.update_ticket(uow.conn, ticket.id, **values, updated_at=uow.clock.now())
    await audit.record(
        uow,
        action,
        target_type="ticket",
        target_id=ticket.id,
        tenant_id=ticket.tenant_id,
        before=_summary(ticket),
        after=_summary(changed),
    )
    return changed


def _status_values(status: str, now: Any) -> dict[str, Any]:
    return {"status": status, "closed_at": now if status == "closed" else None}


async def member_sets_status(uow: UnitOfWork, ticket_id: int, status: str) -> Ticket:
    ticket = await _own_ticket(uow, ticket_id, lock=True)
    if ticket.status != status:
        action = "support.ticket.closed" if status == "closed" else "support.ticket.reopened"
        ticket = await _change(uow, ticket, action, **_status_values(status, uow.clock.now()))
    return await _with_details(uow, ticket)


async def rate(uow: UnitOfWork, ticket_id: int, rating: int, comment: str | None) -> Ticket:
    if not 1 <= rating <= 5:
        raise invalid("rating", "The rating must be between 1 and 5.", "between")
    if comment is not None and len(comment.strip()) > 2000:
        raise invalid("comment", "The comment may not be longer than 2000.", "too_long")
    ticket = await _own_ticket(uow, ticket_id, lock=True)
    if ticket.status != "closed":
        raise conflict("TICKET_NOT_CLOSED", "A ticket is rated once it is closed.")
    ticket = await store.update_ticket(
        uow.conn,
        ticket.id,
        rating=rating,
        rating_comment=(comment or "").strip() or None,
        updated_at=uow.clock.now(),
    )
    await audit.record(
        uow,
        "support.ticket.rated",
        target_type="ticket",
        target_id=ticket.id,
        tenant_id=ticket.tenant_id,
        after={"rating": rating},
    )
    return await _with_details(uow, ticket)


# ── the staff side ──────────────────────────────────────────────────────────────────────────


async def _any_ticket(uow: UnitOfWork, ticket_id: int, lock: bool = False) -> TicketRow:
    ticket = await store.get_ticket(uow.conn, ticket_id, lock=lock)
    if ticket is None:
        raise not_found("Ticket")
    return ticket


async def list_all(uow: UnitOfWork, where: TicketFilter, page: PageQuery) -> Page[Ticket]:
    return await _with_tags(uow, await store.list_tickets(uow.conn, where, page))


async def get_any(uow: UnitOfWork, ticket_id: int) -> Ticket:
    return await _with_details(uow, await _any_ticket(uow, ticket_id), staff=True)


async def mark_viewing(uow: UnitOfWork, ticket_id: int, ttl: timedelta) -> list[ViewerRow]:
    """Presence, not a change of the ticket: not audited. Expired presences are swept here."""
    ticket = await _any_ticket(uow, ticket_id)
    now = uow.clock.now()
    await store.sweep_viewers(uow.conn, now)
    await store.mark_viewing(uow.conn, ticket.id, audit.acting_staff(uow.principal), now + ttl)
    return await store.viewers_of(uow.conn, ticket.id, now)


async def staff_sets(uow: UnitOfWork, ticket_id: int, action: str, **values: Any) -> Ticket:
    """One change of a ticket's status, priority or assignee, audited with before and after."""
    if values.get("priority", "normal") not in PRIORITIES:
        raise invalid("priority", "The priority must be low, normal, high or urgent.", "in")
    if values.get("status", "open") not in STATUSES:
        raise invalid("status", "The status must be open, pending or closed.", "in")
    ticket = await _any_ticket(uow, ticket_id, lock=True)
    if "status" in values:
        values = _status_values(values["status"], uow.clock.now())
    ticket = await _change(uow, ticket, action, **values)
    return await _with_details(uow, ticket, staff=True)


async def staff_replies(uow: UnitOfWork, ticket_id: int, body: str) -> MessageRow:
    body = _text("body", body, 10_000)
    ticket = await _any_ticket(uow, ticket_id, lock=True)
    if ticket.status == "closed":
        raise ticket_closed()
    message = await store.add_message(
        uow.conn,
        ticket_id=ticket.id,
        tenant_id=ticket.tenant_id,
        author_kind="staff",
        author_id=audit.acting_staff(uow.principal),
        body=body,
        created_at=uow.clock.now(),
    )
    await store.update_ticket(uow.conn, ticket.id, status="pending", updated_at=message.created_at)
    uow.emit("backoffice.ticket.replied", _replied(ticket, message), tenant_id=ticket.tenant_id)
    await audit.record(
        uow,
        "support.ticket.replied",
        target_type="ticket",
        target_id=ticket.id,
        tenant_id=ticket.tenant_id,
        before={"status": ticket.status},
        after={"status": "pending", "message_id": message.id},
    )
    return message


async def set_tags(uow: UnitOfWork, ticket_id: int, tag_ids: list[int]) -> Ticket:
    ticket = await _any_ticket(uow, ticket_id, lock=True)
    wanted = list(dict.fromkeys(tag_ids))
    found = {t.id for t in await store.existing_tags(uow.conn, wanted)}
    for index, tag_id in enumerate(wanted):
        if tag_id not in found:
            raise invalid(f"tag_ids.{index}", "No such tag.", "exists")
    before = [t.id for t in (await store.tags_of(uow.conn, [ticket.id])).get(ticket.id, [])]
    await store.replace_tags(uow.conn, ticket.id, wanted)
    await audit.record(
        uow,
        "support.ticket.tagged",
        target_type="ticket",
        target_id=ticket.id,
        tenant_id=ticket.tenant_id,
        before={"tag_ids": before},
        after={"tag_ids": wanted},
    )
    return await _with_details(uow, ticket, staff=True)


async def list_tags(uow: UnitOfWork) -> list[TagRow]:
    return await store.list_tags(uow.conn)


async def list_canned(uow: UnitOfWork, page: PageQuery) -> Page[CannedRow]:
    return await store.list_canned(uow.conn, page)


async def create_tag(uow: UnitOfWork, name: str) -> TagRow:
    name = _text("name", name, 40)
    tag = await store.add_tag(uow.conn, name, uow.clock.now())
    if tag is None:
        raise conflict("TAG_EXISTS", "A tag with this name exists.", "name")
    await audit.record(
        uow, "support.tag.created", target_type="tag", target_id=tag.id, after={"name": name}
    )
    return tag


async def delete_tag(uow: UnitOfWork, tag_id: int) -> None:
    tag = await store.delete_tag(uow.conn, tag_id)
    if tag is None:
        raise not_found("Tag")
    await audit.record(
        uow, "support.tag.deleted", target_type="tag", target_id=tag.id, before={"name": tag.name}
    )


async def create_canned(uow: UnitOfWork, title: str, body: str) -> CannedRow:
    now = uow.clock.now()
    canned = await store.add_canned(
        uow.conn,
        title=_text("title", title, 120),
        body=_text("body", body, 10_000),
        created_by_staff_id=audit.acting_staff(uow.principal),
        created_at=now,
        updated_at=now,
    )
    await audit.record(
        uow,
        "support.canned_reply.created",
        target_type="canned_reply",
        target_id=canned.id,
        after={"title": canned.title},
    )
    return canned


async def get_canned(uow: UnitOfWork, canned_id: int) -> CannedRow:
    canned = await store.get_canned(uow.conn, canned_id)
    if canned is None:
        raise not_found("Canned reply")
    return canned


async def update_canned(
    uow: UnitOfWork, canned_id: int, title: str | Unset | None, body: str | Unset | None
) -> CannedRow:
    before = await get_canned(uow, canned_id)
    values: dict[str, Any] = {}
    if title is not UNSET:
        values["title"] = _text("title", title or "", 120)
    if body is not UNSET:
        values["body"] = _text("body", body or "", 10_000)
    canned = await store.update_canned(uow.conn, canned_id, **values, updated_at=uow.clock.now())
    await audit.record(
        uow,
        "support.canned_reply.updated",
        target_type="canned_reply",
        target_id=canned.id,
        before={"title": before.title},
        after={"title": canned.title},
    )
    return canned


async def delete_canned(uow: UnitOfWork, canned_id: int) -> None:
    canned = await store.delete_canned(uow.conn, canned_id)
    if canned is None:
        raise not_found("Canned reply")
    await audit.record(
        uow,
        "support.canned_reply.deleted",
        target_type="canned_reply",
        target_id=canned.id,
        before={"title": canned.title},
    )
