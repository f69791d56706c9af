"""SQL of the messaging half of inbox: numbers, conversations, messages. Every statement names
its tenant; upserts (never check-then-insert) keep concurrent webhooks from duplicating rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text

from services.inbox.domain.models import ContactRow, ConversationRow, InstanceRow, MessageRow
from services.kit.db import UnitOfWork
from services.kit.rows import from_row, from_rows

LABEL_IDS = (
    "coalesce(ARRAY(SELECT cl.label_id FROM conversation_labels cl"
    " WHERE cl.conversation_id = c.id ORDER BY cl.label_id), '{}') AS label_ids"
)
# What an INSERT/UPDATE of a conversation returns: the row and its labels, in one round trip.
RETURNING_CONVERSATION = (
    "RETURNING conversations.*, coalesce(ARRAY(SELECT cl.label_id FROM conversation_labels cl"
    " WHERE cl.conversation_id = conversations.id ORDER BY cl.label_id), '{}') AS label_ids"
)

# ── phone instances ─────────────────────────────────────────────────────────────────────────


async def count_instances(uow: UnitOfWork, tenant_id: int) -> int:
    return int(
        await uow.conn.scalar(
            text("SELECT count(*) FROM phone_instances WHERE tenant_id = :t"), {"t": tenant_id}
        )
        or 0
    )


async def insert_instance(uow: UnitOfWork, **values: Any) -> InstanceRow:
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    row = (
        await uow.conn.execute(
            text(f"INSERT INTO phone_instances ({columns}) VALUES ({params}) RETURNING *"), values
        )
    ).one()
    return from_row(InstanceRow, row)


async def get_instance(
    uow: UnitOfWork, tenant_id: int, instance_id: int, lock: bool = False
) -> InstanceRow | None:
    row = (
        await uow.conn.execute(
            text(
                "SELECT * FROM phone_instances WHERE tenant_id = :t AND id = :i"
                + (" FOR UPDATE" if lock else "")
            ),
            {"t": tenant_id, "i": instance_id},
        )
    ).first()
    return from_row(InstanceRow, row) if row else None


async def list_instances(uow: UnitOfWork, tenant_id: int) -> list[InstanceRow]:
    rows = await uow.conn.execute(
        text("SELECT * FROM phone_instances WHERE tenant_id = :t ORDER BY id"), {"t": tenant_id}
    )
    return from_rows(InstanceRow, rows)


async def first_connected_instance(uow: UnitOfWork, tenant_id: int) -> InstanceRow | None:
    row = (
        await uow.conn.execute(
            text(
                "SELECT * FROM phone_instances WHERE tenant_id = :t AND status = 'connected'"
                " ORDER BY id LIMIT 1"
            ),
            {"t": tenant_id},
        )
    ).first()
    return from_row(InstanceRow, row) if row else None


async def update_instance(uow: UnitOfWork, instance_id: int, **values: Any) -> InstanceRow:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    row = (
        await uow.conn.execute(
            text(f"UPDATE phone_instances SET {sets} WHERE id = :id RETURNING *"),
            {**values, "id": instance_id},
        )
    ).one()
    return from_row(InstanceRow, row)


async def delete_instance(uow: UnitOfWork, tenant_id: int, instance_id: int) -> bool:
    result = await uow.conn.execute(
        text("DELETE FROM phone_instances WHERE tenant_id = :t AND id = :i"),
        {"t": tenant_id, "i": instance_id},
    )
    return bool(result.rowcount)


# ── contacts (the upsert inbound needs; the contacts API is catalogue's) ──────────────────────


async def upsert_contact(
    uow: UnitOfWork, tenant_id: int, phone: str, name: str | None, now: datetime
) -> tuple[ContactRow, bool]:
    """The tenant's contact for `phone`, created on first sight; (row, created)."""
    row = (
        await uow.conn.execute(
            text(
                "INSERT INTO contacts (tenant_id, phone, name, created_at, updated_at)"
                " VALUES (:t, :p, :n, :now, :now)"
                " ON CONFLICT (tenant_id, phone) DO UPDATE SET"
                " name = coalesce(contacts.name, EXCLUDED.name),"
                " updated_at = CASE WHEN contacts.name IS NULL AND EXCLUDED.name IS NOT NULL"
                " THEN EXCLUDED.updated_at ELSE contacts.updated_at END"
                " RETURNING *, (xmax = 0) AS created"
            ),
            {"t": tenant_id, "p": phone, "n": name, "now": now},
        )
    ).one()
    return from_row(ContactRow, row), bool(row.created)


async def get_contacts(uow: UnitOfWork, tenant_id: int, ids: Sequence[int]) -> list[ContactRow]:
    if not ids:
        return []
    rows = await uow.conn.execute(
        text(
            "SELECT c.*, coalesce(ARRAY(SELECT l.label_id FROM contact_labels l"
            " WHERE l.contact_id = c.id ORDER BY l.label_id), '{}') AS label_ids"
            " FROM contacts c WHERE c.tenant_id = :t AND c.id = ANY(:ids) ORDER BY c.id"
        ),
        {"t": tenant_id, "ids": list(ids)},
    )
    return from_rows(ContactRow, rows)


# ── conversations ───────────────────────────────────────────────────────────────────────────


async def upsert_conversation(
    uow: UnitOfWork,
    *,
    tenant_id: int,
    instance_id: int,
    contact_id: int,
    phone: str,
    name: str | None,
    now: datetime,
) -> tuple[ConversationRow, bool]:
    """The conversation with `phone` on this number, created when missing, and locked; (row,
    created)."""
    row = (
        await uow.conn.execute(
            text(
                "INSERT INTO conversations (tenant_id, phone_instance_id, contact_id,"
                " contact_phone, contact_name, last_activity_at, created_at, updated_at)"
                " VALUES (:t, :i, :c, :p, :n, :now, :now, :now)"
                " ON CONFLICT (tenant_id, phone_instance_id, contact_phone) DO UPDATE SET"
                " contact_id = coalesce(conversations.contact_id, EXCLUDED.contact_id) "
                + RETURNING_CONVERSATION
                + ", (xmax = 0) AS created"
            ),
            {"t": tenant_id, "i": instance_id, "c": contact_id, "p": phone, "n": name, "now": now},
        )
    ).one()
    return from_row(ConversationRow, row), bool(row.created)


async def get_conversation(
    uow: UnitOfWork, tenant_id: int, conversation_id: int, lock: bool = False
) -> ConversationRow | None:
    row = (
        await uow.conn.execute(
            text(
                f"SELECT c.*, {LABEL_IDS} FROM conversations c"
                " WHERE c.tenant_id = :t AND c.id = :i" + (" FOR UPDATE OF c" if lock else "")
            ),
            {"t": tenant_id, "i": conversation_id},
        )
    ).first()
    return from_row(ConversationRow, row) if row else None


async def get_conversations(
    uow: UnitOfWork, tenant_id: int, ids: Sequence[int], lock: bool = False
) -> list[ConversationRow]:
    rows = await uow.conn.execute(
        text(
            f"SELECT c.*, {LABEL_IDS} FROM conversations c"
            " WHERE c.tenant_id = :t AND c.id = ANY(:ids) ORDER BY c.id"
            + (" FOR UPDATE OF c" if lock else "")
        ),
        {"t": tenant_id, "ids": list(ids)},
    )
    return from_rows(ConversationRow, rows)


async def update_conversation(
    uow: UnitOfWork, tenant_id: int, conversation_id: int, **values: Any
) -> ConversationRow:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    row = (
        await uow.conn.execute(
            text(
                f"UPDATE conversations SET {sets} WHERE tenant_id = :t AND id = :i "
                + RETURNING_CONVERSATION
            ),
            {**values, "t": tenant_id, "i": conversation_id},
        )
    ).one()
    return from_row(ConversationRow, row)


async def conversation_for_phone(
    uow: UnitOfWork, tenant_id: int, instance_id: int, phone: str
) -> ConversationRow | None:
    row = (
        await uow.conn.execute(
            text(
                f"SELECT c.*, {LABEL_IDS} FROM conversations c WHERE c.tenant_id = :t"
                " AND c.phone_instance_id = :i AND c.contact_phone = :p FOR UPDATE OF c"
            ),
            {"t": tenant_id, "i": instance_id, "p": phone},
        )
    ).first()
    return from_row(ConversationRow, row) if row else None


async def delete_conversations(uow: UnitOfWork, tenant_id: int, ids: Sequence[int]) -> int:
    result = await uow.conn.execute(
        text("DELETE FROM conversations WHERE tenant_id = :t AND id = ANY(:ids)"),
        {"t": tenant_id, "ids": list(ids)},
    )
    return int(result.rowcount or 0)


async def attach_label(
    uow: UnitOfWork, tenant_id: int, conversation_id: int, label_id: int
) -> bool:
    result = await uow.conn.execute(
        text(
            "INSERT INTO conversation_labels (tenant_id, conversation_id, label_id, created_at)"
            " VALUES (:t, :c, :l, now()) ON CONFLICT DO NOTHING"
        ),
        {"t": tenant_id, "c": conversation_id, "l": label_id},
    )
    return bool(result.rowcount)


async def detach_label(
    uow: UnitOfWork, tenant_id: int, conversation_id: int, label_id: int
) -> bool:
    result = await uow.conn.execute(
        text(
            "DELETE FROM conversation_labels WHERE tenant_id = :t AND conversation_id = :c"
            " AND label_id = :l"
        ),
        {"t": tenant_id, "c": conversation_id, "l": label_id},
    )
    return bool(result.rowcount)


async def label_exists(uow: UnitOfWork, tenant_id: int, label_id: int) -> bool:
    return bool(
        await uow.conn.scalar(
            text("SELECT 1 FROM labels WHERE tenant_id = :t AND id = :l"),
            {"t": tenant_id, "l": label_id},
        )
    )


async def sector_exists(uow: UnitOfWork, tenant_id: int, sector_id: int) -> bool:
    return bool(
        await uow.conn.scalar(
            text("SELECT 1 FROM sectors WHERE tenant_id = :t AND id = :s"),
            {"t": tenant_id, "s": sector_id},
        )
    )


async def agent_restricted(uow: UnitOfWork, tenant_id: int) -> bool:
    return bool(
        await uow.conn.scalar(
            text(
                "SELECT agent_restricted_to_own_conversations FROM tenant_settings"
                " WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        )
    )


async def tenant_limits(uow: UnitOfWork, tenant_id: int) -> dict[str, int] | None:
    value = await uow.conn.scalar(
        text("SELECT limits FROM tenant_settings WHERE tenant_id = :t"), {"t": tenant_id}
    )
    if value is None:
        return None
    return dict(value) if isinstance(value, dict) else dict(json.loads(value))


# ── messages ────────────────────────────────────────────────────────────────────────────────


async def insert_message(uow: UnitOfWork, **values: Any) -> MessageRow | None:
    """The new message, or None when its WhatsApp id or idempotency key is already stored."""
    if "media" in values and values["media"] is not None:
        values["media"] = json.dumps(values["media"])
    columns = ", ".join(values)
    params = ", ".join(f"CAST(:{k} AS jsonb)" if k == "media" else f":{k}" for k in values)
    row = (
        await uow.conn.execute(
            text(
                f"INSERT INTO messages ({columns}) VALUES ({params}) ON CONFLICT DO NOTHING"
                " RETURNING *"
            ),
            values,
        )
    ).first()
    return from_row(MessageRow, row) if row else None


async def message_by_key(uow: UnitOfWork, tenant_id: int, key: str) -> MessageRow | None:
    row = (
        await uow.conn.execute(
            text("SELECT * FROM messages WHERE tenant_id = :t AND idempotency_key = :k"),
            {"t": tenant_id, "k": key},
        )
    ).first()
    return from_row(MessageRow, row) if row else None


async def message_id_by_whatsapp_id(uow: UnitOfWork, tenant_id: int, wa_id: str) -> int | None:
    value = await uow.conn.scalar(
        text("SELECT id FROM messages WHERE tenant_id = :t AND whatsapp_message_id = :w"),
        {"t": tenant_id, "w": wa_id},
    )
    return int(value) if value is not None else None


async def get_message(
    uow: UnitOfWork, tenant_id: int, message_id: int, lock: bool = False
) -> MessageRow | None:
    row = (
        await uow.conn.execute(
            text(
                "SELECT * FROM messages WHERE tenant_id = :t AND id = :i"
                + (" FOR UPDATE" if lock else "")
            ),
            {"t": tenant_id, "i": message_id},
        )
    ).first()
    return from_row(MessageRow, row) if row else None


async def update_message(uow: UnitOfWork, message_id: int, **values: Any) -> MessageRow:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    row = (
        await uow.conn.execute(
            text(f"UPDATE messages SET {sets} WHERE id = :id RETURNING *"),
            {**values, "id": message_id},
        )
    ).one()
    return from_row(MessageRow, row)


STATUS_RANK = {"pending": 0, "failed": 1, "sent": 2, "delivered": 3, "read": 4}


async def advance_status(
    uow: UnitOfWork, tenant_id: int, wa_id: str, status: str, now: datetime
) -> MessageRow | None:
    """Moves an outbound message forward (sent → delivered → read), never backwards."""
    rank = STATUS_RANK[status]
    lower = [s for s, r in STATUS_RANK.items() if r < rank]
    stamps = ""
    if status == "delivered":
        stamps = ", delivered_at = coalesce(delivered_at, :now)"
    elif status == "read":
        stamps = ", delivered_at = coalesce(delivered_at, :now), read_at = coalesce(read_at, :now)"
    row = (
        await uow.conn.execute(
            text(
                f"UPDATE messages SET status = :s, updated_at = :now{stamps}"
                " WHERE tenant_id = :t AND whatsapp_message_id = :w AND direction = 'outbound'"
                " AND status = ANY(:lower) RETURNING *"
            ),
            {"s": status, "now": now, "t": tenant_id, "w": wa_id, "lower": lower},
        )
    ).first()
    return from_row(MessageRow, row) if row else None


async def claim_delivery(
    uow: UnitOfWork, tenant_id: int, message_id: int, now: datetime
) -> MessageRow | None:
    """Marks a pending message as being handed to Evolution; None when it is not pending or
    another delivery already holds it (so only one ever calls Evolution)."""
    row = (
        await uow.conn.execute(
            text(
                "UPDATE messages SET handed_at = :now WHERE tenant_id = :t AND id = :i"
                " AND status = 'pending' AND handed_at IS NULL RETURNING *"
            ),
            {"now": now, "t": tenant_id, "i": message_id},
        )
    ).first()
    return from_row(MessageRow, row) if row else None


async def fail_unconfirmed_deliveries(
    uow: UnitOfWork, handed_before: datetime, limit: int
) -> list[MessageRow]:
    """Pending messages handed to Evolution long enough ago that the call is surely over, with
    no outcome recorded (the process died during it): failed, never sent again blindly."""
    rows = await uow.conn.execute(
        text(
            "UPDATE messages SET status = 'failed', failure_reason = 'delivery_unconfirmed',"
            " updated_at = now() WHERE id IN (SELECT id FROM messages WHERE status = 'pending'"
            " AND handed_at < :b ORDER BY handed_at LIMIT :n FOR UPDATE SKIP LOCKED)"
            " RETURNING *"
        ),
        {"b": handed_before, "n": limit},
    )
    return from_rows(MessageRow, rows)


# ── receipts that arrive before the WhatsApp id is stored ──────────────────────────────────


async def lock_whatsapp_id(uow: UnitOfWork, tenant_id: int, wa_id: str) -> None:
    """Serializes, until commit, the two transactions that may meet over one WhatsApp id: the
    send storing it and an early receipt for it (so the receipt is either seen by the send or
    finds the stored id)."""
    await uow.conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"inbox.whatsapp-id:{tenant_id}:{wa_id}"},
    )


async def keep_early_receipt(
    uow: UnitOfWork, tenant_id: int, wa_id: str, status: str, now: datetime
) -> None:
    await uow.conn.execute(
        text(
            "INSERT INTO early_receipts (tenant_id, whatsapp_message_id, status, received_at)"
            " VALUES (:t, :w, :s, :now) ON CONFLICT DO NOTHING"
        ),
        {"t": tenant_id, "w": wa_id, "s": status, "now": now},
    )


async def take_early_receipts(uow: UnitOfWork, tenant_id: int, wa_id: str) -> list[str]:
    """The statuses kept for this id, removed, lowest rank first."""
    rows = await uow.conn.execute(
        text(
            "DELETE FROM early_receipts WHERE tenant_id = :t AND whatsapp_message_id = :w"
            " RETURNING status"
        ),
        {"t": tenant_id, "w": wa_id},
    )
    return sorted((str(r[0]) for r in rows), key=lambda s: STATUS_RANK.get(s, 0))


async def purge_early_receipts(uow: UnitOfWork, before: datetime) -> int:
    result = await uow.conn.execute(
        text("DELETE FROM early_receipts WHERE received_at < :b"), {"b": before}
    )
    return int(result.rowcount or 0)


async def recent_messages(
    uow: UnitOfWork, tenant_id: int, conversation_id: int, limit: int
) -> list[MessageRow]:
    rows = await uow.conn.execute(
        text(
            "SELECT * FROM (SELECT * FROM messages WHERE tenant_id = :t AND conversation_id = :c"
            " ORDER BY sent_at DESC, id DESC LIMIT :n) m ORDER BY sent_at, id"
        ),
        {"t": tenant_id, "c": conversation_id, "n": limit},
    )
    return from_rows(MessageRow, rows)


async def store_outbound_media(uow: UnitOfWork, **values: Any) -> None:
    await uow.conn.execute(
        text(
            "INSERT INTO outbound_media (message_id, tenant_id, mediatype, mimetype, file_name,"
            " data, created_at) VALUES (:message_id, :tenant_id, :mediatype, :mimetype,"
            " :file_name, :data, :created_at)"
        ),
        values,
    )


async def outbound_media(uow: UnitOfWork, message_id: int) -> Any:
    return (
        await uow.conn.execute(
            text("SELECT * FROM outbound_media WHERE message_id = :m"), {"m": message_id}
        )
    ).first()


async def drop_outbound_media(uow: UnitOfWork, message_id: int) -> None:
    await uow.conn.execute(
        text("DELETE FROM outbound_media WHERE message_id = :m"), {"m": message_id}
    )
