"""Protobuf helpers every servicer needs: reading optional fields, dataclass → message, and the
update mask → a typed change set.

`to_proto(obj, Message)` copies same-named fields: datetimes become Timestamps, None leaves an
optional or message field unset, lists fill repeated fields, and a nested dataclass becomes the
nested message. The field plan is built once per (dataclass, message) pair and cached, so the
helper costs no reflection per call. Mappers that rename or compute pass those fields as
keyword overrides (or stay hand-written)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from google.protobuf import message_factory, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from services.kit.errors import FieldProblem, validation_failed
from services.kit.rows import UNSET, Unset, field_names
from services.kit.validation import Checker

M = TypeVar("M", bound=Message)
T = TypeVar("T")
V = TypeVar("V")
R = TypeVar("R")
TIMESTAMP = "google.protobuf.Timestamp"
UPDATE_MASK = "update_mask"


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


# ── dataclass → message ─────────────────────────────────────────────────────────────────────

Convert = Callable[[Any], Any]


def _message_class(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


def _value_converter(field: Any) -> Convert | None:
    """How one element of a field is converted, or None when it is copied as it is."""
    sub = field.message_type
    if sub is None or (sub.GetOptions().map_entry):
        return None
    if sub.full_name == TIMESTAMP:
        return lambda v: stamp(v) if isinstance(v, datetime) else v
    sub_class = _message_class(sub)
    return lambda v: v if isinstance(v, Message) else to_proto(v, sub_class)


ProtoPlan = tuple[tuple[str, bool, Convert | None], ...]
_proto_plans: dict[tuple[type, type[Message]], ProtoPlan] = {}


def _proto_plan(cls: type, message_class: type[Message]) -> ProtoPlan:
    """(field name, repeated, converter) for each message field the object's class has; built
    once per (class, message) pair."""
    plan = _proto_plans.get((cls, message_class))
    if plan is None:
        plan = _proto_plans[(cls, message_class)] = _build_proto_plan(cls, message_class)
    return plan


def _build_proto_plan(cls: type, message_class: type[Message]) -> ProtoPlan:
    attrs = set(field_names(cls)) if dataclasses.is_dataclass(cls) else set()
    plan = []
    for field in message_class.DESCRIPTOR.fields:
        if field.name not in attrs and not isinstance(getattr(cls, field.name, None), property):
            continue
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        repeated = field.is_repeated and not is_map
        plan.append((field.name, repeated, _value_converter(field)))
    return tuple(plan)


def to_proto(obj: object, message_class: type[M], **overrides: Any) -> M:
    """`message_class` filled from `obj`'s same-named fields; `overrides` set (or, with None,
    clear) fields that are renamed or computed."""
    values: dict[str, Any] = {}
    plan = _proto_plan(type(obj), cast(type[Message], message_class))
    for name, repeated, convert in plan:
        if name in overrides:
            continue
        value = getattr(obj, name)
        if value is None:
            continue
        if convert is not None:
            value = [convert(v) for v in value] if repeated else convert(value)
        values[name] = value
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
    return message_class(**values)


# ── update mask → change set ────────────────────────────────────────────────────────────────


def _masked_value(request: Message, field: FieldDescriptor) -> Any:
    value = getattr(request, field.name)
    if field.is_repeated:
        return list(value)
    if field.has_presence and not request.HasField(field.name):
        return None  # masked but unset: the client sent null
    if field.message_type is not None and field.message_type.full_name == TIMESTAMP:
        return value.ToDatetime(tzinfo=UTC)
    return value


def masked_changes(request: Message, changes_class: type[T]) -> T:
    """The typed change set a PATCH asks for: exactly the fields named in `update_mask` (the
    gateway fills it from the body's keys), each with the request's value; None for a masked
    field left unset (JSON null). Every other field of `changes_class` stays UNSET. A path the
    change set does not know is a 422 naming it. An empty mask changes nothing."""
    allowed = set(field_names(changes_class))
    fields: Any = request.DESCRIPTOR.fields_by_name
    values: dict[str, Any] = {}
    problems = []
    for path in getattr(request, UPDATE_MASK).paths:
        field = fields.get(path)
        if path not in allowed or field is None:
            problems.append(
                FieldProblem(path, f"The {path} field cannot be changed.", "prohibited")
            )
            continue
        values[path] = _masked_value(request, field)
    if problems:
        raise validation_failed(problems)
    return changes_class(**values)


def checked_change(
    check: Checker, field: str, value: V | Unset | None, rule: Callable[[str, V], R]
) -> R | Unset:
    """One field of a change set through its rule (e.g. `check.text`): UNSET stays UNSET, and
    null is a field error, for a field that may not be cleared."""
    if value is UNSET:
        return UNSET
    if value is None:
        check.fail(field, f"The {field} field may not be null.", "required")
        return UNSET
    return rule(field, value)


__all__ = ["UNSET", "checked_change", "masked_changes", "optional", "stamp", "to_proto"]
