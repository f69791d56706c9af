"""Events as JSON for customers' receivers and the panel: snake_case names, integers as JSON
numbers (protobuf's own JSON spells 64-bit integers as strings), timestamps as ISO-8601 UTC,
unset optional fields as null, every other field present."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

TIMESTAMP = "google.protobuf.Timestamp"


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None:
        return to_json(value)
    if field.enum_type is not None:
        return (
            field.enum_type.values_by_number[value].name
            if value in field.enum_type.values_by_number
            else value
        )
    if field.type == FieldDescriptor.TYPE_BYTES:
        return None
    return value


def to_json(message: Message) -> Any:
    descriptor = cast(Descriptor, message.DESCRIPTOR)
    if descriptor.full_name == TIMESTAMP:
        return message.ToDatetime().isoformat().replace("+00:00", "") + "Z"  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for field in descriptor.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {str(k): _value(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [_value(field, v) for v in value]
        elif field.has_presence and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _value(field, value)
    return out


def event_body(
    event_id: str, event_type: str, created_at: datetime, tenant_id: int, data: Any
) -> str:
    """The delivery body: a stable id, the type, when it happened, the tenant and the data."""
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
            "tenant_id": tenant_id,
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def event_id_of(nats_id: str) -> str:
    """`evt_` + the event's own id (its Nats-Msg-Id): the same on every endpoint and retry."""
    try:
        return "evt_" + uuid.UUID(nats_id).hex
    except ValueError:
        return "evt_" + nats_id[:64]
