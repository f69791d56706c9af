"""Small protobuf helpers every servicer needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message


def optional(message: Message, field: str) -> Any:
    """A proto3 `optional` field's value, or None when the caller did not send it."""
    return getattr(message, field) if message.HasField(field) else None


def stamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp for a datetime; None stays unset (rendered as null by the gateway)."""
    if value is None:
        return None
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(value)
    return result
