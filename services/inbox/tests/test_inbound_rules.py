"""What a new message leaves on its conversation (the domain's rule; the store writes it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.inbox.domain.inbound import new_conversation, next_state, state_of
from services.inbox.domain.models import ConversationRow, ConversationState
from services.inbox.domain.whatsapp import InboundMessage

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def conversation(**values: object) -> ConversationState:
    row = ConversationRow(
        id=1,
        tenant_id=1,
        phone_instance_id=1,
        contact_id=1,
        contact_phone="5511999990000",
        contact_name=None,
        notes=None,
        status="open",
        snoozed_until=None,
        handler="none",
        assigned_user_id=None,
        sector_id=None,
        unread_count=0,
        last_message_text="earlier",
        last_message_direction="inbound",
        first_inbound_at=T0,
        first_response_at=None,
        last_inbound_at=T0,
        last_activity_at=T0,
        closed_at=None,
        created_at=T0,
        updated_at=T0,
    )
    for name, value in values.items():
        setattr(row, name, value)
    return state_of(row)


def message(sent_at: datetime, from_me: bool = False, body: str = "oi") -> InboundMessage:
    return InboundMessage(
        whatsapp_message_id="W1",
        phone="5511999990000",
        from_me=from_me,
        push_name=None if from_me else "Ana",
        sent_at=sent_at,
        type="text",
        body=body,
    )


def test_a_customer_message_reopens_wakes_and_counts_as_unread() -> None:
    before = conversation(status="closed", closed_at=T0, snoozed_until=T0 + timedelta(days=1))
    later = T0 + timedelta(minutes=5)
    state = next_state(before, False, message(later), "Ana", "inbound")
    assert (state.status, state.closed_at, state.snoozed_until) == ("open", None, None)
    assert state.unread_count == 1
    assert state.last_activity_at == later
    assert state.last_inbound_at == later
    assert state.first_inbound_at == T0  # the first stays the first
    assert (state.last_message_text, state.contact_name) == ("oi", "Ana")


def test_a_late_delivery_of_an_older_message_moves_nothing_back() -> None:
    before = conversation(last_activity_at=T0, last_inbound_at=T0)
    earlier = T0 - timedelta(minutes=5)
    state = next_state(before, False, message(earlier, body="older"), "Ana", "inbound")
    assert state.last_activity_at == T0
    assert state.last_inbound_at == T0
    assert state.last_message_text == "earlier"
    assert state.unread_count == 1


def test_a_message_sent_from_the_phone_is_a_members_answer() -> None:
    before = conversation(unread_count=2)
    later = T0 + timedelta(minutes=1)
    state = next_state(before, False, message(later, from_me=True), None, "outbound")
    assert state.handler == "human"
    assert state.first_response_at == later
    assert state.unread_count == 2
    assert state.last_message_direction == "outbound"


def test_a_new_conversation_starts_with_its_first_message() -> None:
    first = message(T0)
    state = next_state(new_conversation(first), True, first, "Ana", "inbound")
    assert (state.last_activity_at, state.first_inbound_at, state.last_inbound_at) == (T0, T0, T0)
    assert (state.unread_count, state.status, state.handler) == (1, "open", "none")
    assert (state.last_message_text, state.last_message_direction) == ("oi", "inbound")
    echo = message(T0, from_me=True)
    state = next_state(new_conversation(echo), True, echo, None, "outbound")
    assert (state.unread_count, state.handler, state.first_response_at) == (0, "human", T0)
    assert state.first_inbound_at is None
