"""JSON ⇄ protobuf, decided once for the whole API.

In: path variables, query string, JSON body or multipart form. Unknown body keys and wrong types
are refused with 422 naming the field, and so is a query parameter that contradicts the body; a
request with an `update_mask` (PATCH, and the PUTs of settings) gets the keys sent as its mask.
Out: the reference's snake_case names, ids as JSON numbers, unset optional fields as null,
timestamps as ISO-8601 with offset, every documented field present."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from starlette.datastructures import UploadFile

from gateway.errors import GatewayError, invalid_input

if TYPE_CHECKING:
    from gateway.discovery import RouteSpec
    from plixa.common.v1 import raw_request_pb2

F = FieldDescriptor
INT_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}
FLOAT_TYPES = (F.TYPE_DOUBLE, F.TYPE_FLOAT)
TIMESTAMP = "google.protobuf.Timestamp"
FIELD_MASK = "google.protobuf.FieldMask"
JSON_WKT = (
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
)
UPDATE_MASK = "update_mask"
# A list's paging: its fields are query parameters of their own (`?cursor=…&limit=…`).
PAGE_REQUEST = "plixa.common.v1.PageRequest"
# Deeper JSON is refused: no request of the API nests anywhere near it, and a bound keeps every
# walk over the data (ours, protobuf's Struct parsing) far from Python's recursion limit.
MAX_JSON_DEPTH = 32


def descriptor_of(message: Message) -> Descriptor:
    return cast(Descriptor, message.DESCRIPTOR)


def message_type(field: FieldDescriptor) -> Descriptor:
    """The message type of a message-typed field (callers check `field.message_type` first)."""
    if field.message_type is None:
        raise TypeError(f"{field.full_name} is not a message field")
    return field.message_type


def enum_type(field: FieldDescriptor) -> EnumDescriptor:
    if field.enum_type is None:
        raise TypeError(f"{field.full_name} is not an enum field")
    return field.enum_type


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _is_repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def public_fields(descriptor: Descriptor) -> list[FieldDescriptor]:
    """Fields a client sends or sees: the update mask is the gateway's business."""
    return [
        f
        for f in descriptor.fields
        if not (f.name == UPDATE_MASK and f.message_type and f.message_type.full_name == FIELD_MASK)
    ]


# ── in ──────────────────────────────────────────────────────────────────────────────────────


def _scalar(field: FieldDescriptor, value: Any, path: str, *, lenient: bool) -> Any:
    """Checks one JSON (or, when lenient, form-text) value against a scalar field's type."""
    kind = field.type
    if kind in INT_RANGES:
        if lenient and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise invalid_input(path, f"The {path} must be an integer.") from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_input(path, f"The {path} must be an integer.")
        low, high = INT_RANGES[kind]
        if not low <= value <= high:
            raise invalid_input(path, f"The {path} is out of range.")
        return value
    if kind in FLOAT_TYPES:
        if lenient and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise invalid_input(path, f"The {path} must be a number.") from None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise invalid_input(path, f"The {path} must be a number.")
        return float(value)
    if kind == F.TYPE_BOOL:
        if lenient and isinstance(value, str) and value.lower() in ("1", "0", "true", "false"):
            return value.lower() in ("1", "true")
        if not isinstance(value, bool):
            raise invalid_input(path, f"The {path} field must be true or false.")
        return value
    if kind == F.TYPE_STRING:
        if not isinstance(value, str):
            raise invalid_input(path, f"The {path} must be a string.")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise invalid_input(path, f"The {path} may not contain NUL characters.")
        try:
            value.encode()  # JSON may spell a lone surrogate (\ud800); protobuf cannot hold it
        except UnicodeEncodeError:
            raise invalid_input(path, f"The {path} is not valid Unicode text.") from None
        return value
    if kind == F.TYPE_BYTES:
        if isinstance(value, bytes):
            return value
        if not isinstance(value, str):
            raise invalid_input(path, f"The {path} must be base64 text.")
        try:
            return base64.b64decode(value.rstrip("\n"), validate=True)  # as `base64` prints it
        except ValueError:
            raise invalid_input(path, f"The {path} must be base64 text.") from None
    if kind == F.TYPE_ENUM:
        if not isinstance(value, str):
            raise invalid_input(path, f"The {path} must be one of the allowed values.")
        allowed = {v.name.lower(): v.number for v in enum_type(field).values}
        if value.lower() not in allowed:
            raise invalid_input(path, f"The selected {path} is invalid.")
        return allowed[value.lower()]
    raise invalid_input(path, f"The {path} cannot be set.")


def _parse_timestamp(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise invalid_input(path, f"The {path} must be an ISO-8601 date-time.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_input(path, f"The {path} must be an ISO-8601 date-time.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_json_body(body: bytes) -> dict[str, Any]:
    """A JSON object body (an empty body is `{}`), at most MAX_JSON_DEPTH deep."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_input("body", f"The body is not valid JSON: {exc}.") from None
    except RecursionError:  # the decoder's own guard, far deeper than the bound
        data = None
        too_deep = True
    else:
        too_deep = _deeper_than(data, MAX_JSON_DEPTH)
    if too_deep:
        raise invalid_input("body", f"The body may not nest deeper than {MAX_JSON_DEPTH} levels.")
    if not isinstance(data, dict):
        raise invalid_input("body", "The body must be a JSON object.")
    return data


def _deeper_than(value: Any, room: int) -> bool:
    """Whether arrays and objects nest more than `room` levels (recursion stops at the bound)."""
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    if room == 0:
        return True
    return any(_deeper_than(child, room - 1) for child in children)


def fill_message(
    message: Message, data: dict[str, Any], path: str = "", lenient: bool = False
) -> None:
    """Copies a JSON object into a message, refusing unknown keys and wrong types by field."""
    fields = {f.name: f for f in public_fields(descriptor_of(message))}
    for key, value in data.items():
        here = f"{path}.{key}" if path else key
        field = fields.get(key)
        if field is None:
            raise invalid_input(here, f"The {here} field is not accepted here.")
        if value is None:
            continue  # null is "unset"; a PATCH learns it was sent from the update mask
        _set_field(message, field, value, here, lenient)


def _set_field(
    message: Message, field: FieldDescriptor, value: Any, path: str, lenient: bool
) -> None:
    if _is_map(field):
        if not isinstance(value, dict):
            raise invalid_input(path, f"The {path} must be an object.")
        target = getattr(message, field.name)
        value_field = message_type(field).fields_by_name["value"]
        key_field = message_type(field).fields_by_name["key"]
        for k, v in value.items():
            key = _scalar(key_field, k, f"{path}.{k}", lenient=True)
            if value_field.message_type is not None:
                fill_message(target[key], _object(v, f"{path}.{k}"), f"{path}.{k}", lenient)
            elif v is not None:
                target[key] = _scalar(value_field, v, f"{path}.{k}", lenient=lenient)
        return
    if _is_repeated(field):
        if lenient and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            raise invalid_input(path, f"The {path} must be an array.")
        target = getattr(message, field.name)
        for index, item in enumerate(value):
            item_path = f"{path}.{index}"
            if item is None:
                raise invalid_input(item_path, f"The {item_path} may not be null.")
            if field.message_type is not None:
                _fill_nested(target.add(), field, item, item_path, lenient)
            else:
                target.append(_scalar(field, item, item_path, lenient=lenient))
        return
    if field.message_type is not None:
        _fill_nested(getattr(message, field.name), field, value, path, lenient)
        return
    setattr(message, field.name, _scalar(field, value, path, lenient=lenient))


def _fill_nested(
    target: Message, field: FieldDescriptor, value: Any, path: str, lenient: bool
) -> None:
    name = message_type(field).full_name
    if name == TIMESTAMP:
        target.FromDatetime(_parse_timestamp(value, path))  # type: ignore[attr-defined]
    elif name in JSON_WKT:
        try:
            json_format.ParseDict(value, target)
        except (json_format.ParseError, UnicodeEncodeError):  # a lone surrogate (\ud800) too
            raise invalid_input(path, f"The {path} is not valid JSON for this field.") from None
    else:
        fill_message(target, _object(value, path), path, lenient)


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_input(path or None, f"The {path or 'body'} must be a JSON object.")
    return value


def apply_path_params(message: Message, params: dict[str, str]) -> None:
    """Path variables; an id that is not a number names no object, so it is a 404."""
    for name, raw in params.items():
        field = descriptor_of(message).fields_by_name[name]
        try:
            setattr(message, name, _scalar(field, raw, name, lenient=True))
        except GatewayError:
            raise GatewayError(404, "NOT_FOUND", "Resource not found.") from None


@cache
def page_request_field(descriptor: Descriptor) -> FieldDescriptor | None:
    """The request's PageRequest field, whose fields are read from the query string as is."""
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.full_name == PAGE_REQUEST:
            return field
    return None


def apply_query(
    message: Message,
    query: list[tuple[str, str]],
    skip: set[str],
    body: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Query parameters fill top-level fields (and a list's paging fields); `tags[]=a&tags[]=b`
    and repeated keys fill lists. Unknown parameters are ignored (caches and proxies add their
    own). A parameter naming a field the body also sent (`body`: its top-level keys) must say the
    same, or it is a 422."""
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key.removesuffix("[]"), []).append(value)
    descriptor = descriptor_of(message)
    fields = descriptor.fields_by_name
    paging = page_request_field(descriptor)
    for key, values in grouped.items():
        target, field = message, fields.get(key)
        if field is None and paging is not None:
            target, field = (
                getattr(message, paging.name),
                message_type(paging).fields_by_name.get(key),
            )
        if field is None or key in skip or key == UPDATE_MASK:
            continue
        if field.message_type is not None and field.message_type.full_name != TIMESTAMP:
            continue
        chosen: Any = values if _is_repeated(field) else values[-1]
        if key in body and target is message:
            _refuse_contradiction(message, field, chosen, key)
            continue
        _set_field(target, field, chosen, key, lenient=True)


def _refuse_contradiction(message: Message, field: FieldDescriptor, chosen: Any, key: str) -> None:
    """The body already set `key` (null leaves it unset); the query's value must equal it."""
    from_query = type(message)()
    _set_field(from_query, field, chosen, key, lenient=True)
    same = getattr(from_query, key) == getattr(message, key)
    if field.has_presence and not field.is_repeated:
        same = same and message.HasField(key)  # a null in the body is no value to agree with
    if not same:
        raise invalid_input(key, f"The {key} in the query string contradicts the body.")


FILE_SIBLINGS = ("_filename", "_content_type")


@cache
def accepts_files(descriptor: Descriptor) -> bool:
    """Whether a body takes a file: a `bytes` field with a `<field>_filename` or
    `<field>_content_type` sibling. Only such bodies may be sent as multipart/form-data."""
    names = descriptor.fields_by_name
    return any(
        f.type == F.TYPE_BYTES and any(f.name + suffix in names for suffix in FILE_SIBLINGS)
        for f in descriptor.fields
    )


def route_accepts_files(route: RouteSpec) -> bool:
    """Whether the route's body (the request, or its `body` field) takes a file."""
    body = route.rule.body
    if not body:
        return False
    descriptor = route.input if body == "*" else route.input.fields_by_name[body].message_type
    return descriptor is not None and accepts_files(descriptor)


def apply_form(
    message: Message, form: list[tuple[str, str | UploadFile]], files: dict[str, bytes]
) -> None:
    """A multipart form: text fields leniently typed, files into `bytes` fields, with optional
    `<field>_filename` and `<field>_content_type` siblings filled from the part."""
    fields = {f.name: f for f in public_fields(descriptor_of(message))}
    grouped: dict[str, list[Any]] = {}
    for key, value in form:
        grouped.setdefault(key.removesuffix("[]"), []).append(value)
    for key, values in grouped.items():
        field = fields.get(key)
        if field is None:
            raise invalid_input(key, f"The {key} field is not accepted here.")
        if isinstance(values[0], UploadFile):
            upload = values[0]
            if field.type != F.TYPE_BYTES:
                raise invalid_input(key, f"The {key} must not be a file.")
            setattr(message, key, files[key])
            for suffix, attr in (
                ("_filename", upload.filename),
                ("_content_type", upload.content_type),
            ):
                if key + suffix in fields and attr:
                    setattr(message, key + suffix, attr)
            continue
        chosen: Any = values if _is_repeated(field) else values[-1]
        _set_field(message, field, chosen, key, lenient=True)


def fill_raw(raw: Message, body: bytes, headers: Mapping[str, str], rule: Any) -> None:
    """A raw-body route (a signed provider webhook): the exact bytes, the content type and only
    the headers the route lists, so the service can verify a signature over what was sent."""
    raw_request = cast("raw_request_pb2.RawRequest", raw)
    raw_request.body = body
    raw_request.content_type = headers.get("content-type", "")
    for name in rule.raw_headers:
        value = headers.get(name)
        if value is not None:
            raw_request.headers[name] = value


def set_update_mask(message: Message, keys: list[str]) -> None:
    field = descriptor_of(message).fields_by_name.get(UPDATE_MASK)
    if field is not None and field.message_type and field.message_type.full_name == FIELD_MASK:
        getattr(message, UPDATE_MASK).paths.extend(keys)


# ── out ─────────────────────────────────────────────────────────────────────────────────────
# Each message type is rendered by a plan built once from its descriptor: one small function per
# field, decided up front (enum names, base64, timestamps, nested plans), so answering a request
# walks no descriptors and runs no json_format.

Render = Callable[[Any], Any]
FieldRender = Callable[[Message], Any]


def _enum_out(field: FieldDescriptor) -> Render:
    names = {v.number: v.name.lower() for v in enum_type(field).values}
    return lambda value: names.get(value, value)  # an unknown number stays a number


def _bytes_out(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _float_out(value: float) -> float | None:
    return value if math.isfinite(value) else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS_RANGE = range(-62135596800, 253402300800)  # 0001-01-01 … 9999-12-31, as protobuf checks


_timestamps: dict[tuple[int, int], str] = {}  # recent instants → text (answers repeat them)
_TIMESTAMPS_KEPT = 50_000


def _timestamp_out(value: Any) -> str:
    """Timestamp.ToDatetime(tzinfo=UTC).isoformat(), remembered per instant: a list of free slots
    renders thousands of timestamps, mostly the same few hundred instants. Anything out of range
    goes through ToDatetime and fails as before."""
    key = (value.seconds, value.nanos)
    text = _timestamps.get(key)
    if text is None:
        seconds, nanos = key
        if seconds in _SECONDS_RANGE and 0 <= nanos < 1_000_000_000:
            moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
        else:
            moment = value.ToDatetime(tzinfo=UTC)
        if len(_timestamps) >= _TIMESTAMPS_KEPT:
            _timestamps.clear()
        text = _timestamps[key] = moment.isoformat()
    return text


def _json_wkt_out(value: Message) -> Any:
    return json_format.MessageToDict(value)


def _value_render(field: FieldDescriptor) -> Render | None:
    """How one value of the field becomes JSON; None when it is JSON as it is."""
    if field.message_type is None:
        if field.type == F.TYPE_ENUM:
            return _enum_out(field)
        if field.type == F.TYPE_BYTES:
            return _bytes_out
        if field.type in FLOAT_TYPES:
            return _float_out
        return None
    name = message_type(field).full_name
    if name == TIMESTAMP:
        return _timestamp_out
    if name in JSON_WKT:
        return _json_wkt_out
    return to_json  # the nested type's own plan, looked up when it is first needed


def _field_render(field: FieldDescriptor) -> FieldRender:
    name = field.name
    if _is_map(field):
        value_render = _value_render(message_type(field).fields_by_name["value"]) or _same
        return lambda m: {str(k): value_render(v) for k, v in getattr(m, name).items()}
    render = _value_render(field)
    if _is_repeated(field):
        if render is None:
            return lambda m: list(getattr(m, name))
        if render is to_json:  # the items' plan is looked up once per list, not once per item
            items_type = message_type(field)
            return lambda m: _render_items(items_type, getattr(m, name))
        return lambda m: [render(item) for item in getattr(m, name)]
    if field.has_presence:
        if render is None:
            return lambda m: getattr(m, name) if m.HasField(name) else None
        return lambda m: render(getattr(m, name)) if m.HasField(name) else None
    if render is None:
        return lambda m: getattr(m, name)
    return lambda m: render(getattr(m, name))


def _same(value: Any) -> Any:
    return value


class _Plan:
    """Every public field of one message type, in declaration order, with its renderer."""

    def __init__(self, descriptor: Descriptor) -> None:
        self.fields: tuple[tuple[str, FieldRender], ...] = tuple(
            (field.name, _field_render(field)) for field in public_fields(descriptor)
        )
        self.by_name = dict(self.fields)

    def render(self, message: Message) -> dict[str, Any]:
        return {name: render(message) for name, render in self.fields}


_plans: dict[str, _Plan] = {}


def _plan(message: Message) -> _Plan:
    descriptor = descriptor_of(message)
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        plan = _plans[descriptor.full_name] = _Plan(descriptor)
    return plan


def _render_items(descriptor: Descriptor, items: Any) -> list[dict[str, Any]]:
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        plan = _plans[descriptor.full_name] = _Plan(descriptor)
    render = plan.render
    return [render(item) for item in items]


def to_json(message: Message) -> dict[str, Any]:
    """Every public field present; unset optional and message fields are null."""
    return _plan(message).render(message)


def field_out(message: Message, name: str) -> Any:
    """The JSON of one field of a response (the route's `response_body`)."""
    return _plan(message).by_name[name](message)
