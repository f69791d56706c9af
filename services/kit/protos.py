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

Build = Callable[[Any], dict[str, Any]]
_builders: dict[tuple[type, type[Message]], Build] = {}


def _nested(descriptor: Descriptor) -> Callable[[Any], Any]:
    """A nested dataclass becomes its message (a message is passed as it is)."""
    message_class = message_factory.GetMessageClass(descriptor)
    return lambda v: v if isinstance(v, Message) else to_proto(v, message_class)


def _compile_builder(cls: type, message_class: type[Message]) -> Build:
    """A function that reads `cls`'s fields into the constructor keywords of `message_class`,
    generated once per pair so a call costs no reflection: one attribute read and one None test
    per field. Datetimes are passed as they are: the constructor turns them into Timestamps."""
    attrs = set(field_names(cls)) if dataclasses.is_dataclass(cls) else set()
    namespace: dict[str, Any] = {}
    body = ["def build(obj):", "    values = {}"]
    field: Any
    for field in message_class.DESCRIPTOR.fields:
        name = field.name
        if name not in attrs and not isinstance(getattr(cls, name, None), property):
            continue
        sub = field.message_type
        expr = "v"
        if sub is not None and not sub.GetOptions().map_entry and sub.full_name != TIMESTAMP:
            namespace[f"nested_{name}"] = _nested(sub)
            repeated = field.is_repeated
            expr = f"[nested_{name}(x) for x in v]" if repeated else f"nested_{name}(v)"
        body += [
            f"    v = obj.{name}",
            "    if v is not None:",
            f"        values[{name!r}] = {expr}",
        ]
    body.append("    return values")
    exec("\n".join(body), namespace)  # the source names only descriptor fields
    build: Build = namespace["build"]
    return build


def to_proto(obj: object, message_class: type[M], **overrides: Any) -> M:
    """`message_class` filled from `obj`'s same-named fields; `overrides` set (or, with None,
    clear) fields that are renamed or computed."""
    key = (type(obj), cast(type[Message], message_class))
    build = _builders.get(key)
    if build is None:
        build = _builders[key] = _compile_builder(*key)
    values = build(obj)
    for name, value in overrides.items():
        if value is None:
            values.pop(name, None)
        else:
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
