"""The JSON policy of the gateway, on the real generated messages (no processes needed)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import json_format, wrappers_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.datastructures import Headers, UploadFile

from gateway import transcode
from gateway.discovery import discover_routes
from gateway.errors import GatewayError
from gateway.routing import RouteTable
from plixa.common.v1 import errors_pb2, paging_pb2
from plixa.identity.v1 import identity_pb2


def test_unset_optional_fields_are_null_and_ids_are_numbers() -> None:
    user = identity_pb2.User(id=2**40, tenant_id=9, name="Ana", email="a@b.co", role="agent")
    assert transcode.to_json(user) == {
        "id": 2**40,
        "tenant_id": 9,
        "name": "Ana",
        "email": "a@b.co",
        "role": "agent",
        "locale": "",
    }
    assert transcode.to_json(paging_pb2.PageMeta(limit=20)) == {
        "next_cursor": None,
        "limit": 20,
        "has_more": False,
    }
    assert transcode.to_json(identity_pb2.Me()) == {"user": None, "tenant": None}


def test_repeated_and_nested_fields_render_fully() -> None:
    detail = errors_pb2.ErrorDetail(code="X", http_status=422)
    detail.fields.add(field="email", code="taken", message="m")
    out = transcode.to_json(detail)
    assert out["fields"] == [{"field": "email", "code": "taken", "message": "m"}]
    assert out["retry_after_seconds"] == 0


def test_update_mask_is_hidden_and_filled_from_the_keys_sent() -> None:
    request = identity_pb2.UpdateMeRequest()
    transcode.fill_message(request, {"name": "Ana", "locale": None})
    transcode.set_update_mask(request, ["name", "locale"])
    assert request.HasField("name") and not request.HasField("locale")
    assert list(request.update_mask.paths) == ["name", "locale"]
    assert "update_mask" not in transcode.to_json(request)
    with pytest.raises(GatewayError) as refused:
        transcode.fill_message(identity_pb2.UpdateMeRequest(), {"update_mask": {"paths": ["role"]}})
    assert refused.value.detail.fields[0].field == "update_mask"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"nope": 1}, "nope"),
        ({"user": {"id": "1"}}, "user.id"),
        ({"user": {"id": 1.5}}, "user.id"),
        ({"user": {"id": True}}, "user.id"),
        ({"user": {"id": 2**63}}, "user.id"),
        ({"user": []}, "user"),
    ],
)
def test_wrong_types_name_their_field(body: dict[str, object], field: str) -> None:
    target = identity_pb2.Me() if "user" in body else identity_pb2.UpdateMeRequest()
    with pytest.raises(GatewayError) as refused:
        transcode.fill_message(target, body)
    assert refused.value.status == 422
    assert refused.value.detail.fields[0].field == field


def test_form_files_fill_bytes_fields_and_text_is_typed_leniently() -> None:
    upload = UploadFile(
        file=io.BytesIO(b"\x89PNG"),
        filename="logo.png",
        headers=Headers({"content-type": "image/png"}),
    )
    message = wrappers_pb2.BytesValue()
    transcode.apply_form(message, [("value", upload)], {"value": b"\x89PNG"})
    assert message.value == b"\x89PNG"
    number = wrappers_pb2.Int64Value()
    transcode.apply_form(number, [("value", "42")], {})
    assert number.value == 42
    flag = wrappers_pb2.BoolValue()
    transcode.apply_form(flag, [("value", "1")], {})
    assert flag.value is True


def test_path_ids_that_are_not_numbers_are_404() -> None:
    with pytest.raises(GatewayError) as missing:
        transcode.apply_path_params(identity_pb2.GetTeamMemberRequest(), {"id": "abc"})
    assert missing.value.status == 404


def test_route_table_prefers_literals_and_reports_allowed_verbs() -> None:
    table = RouteTable(discover_routes())
    route, params = table.match("GET", "/v1/team/members/12")
    assert (route.method.name, params) == ("GetTeamMember", {"id": "12"})
    with pytest.raises(GatewayError) as wrong_verb:
        table.match("PUT", "/v1/me")
    assert wrong_verb.value.status == 405
    assert wrong_verb.value.headers["Allow"] == "GET, PATCH"
    with pytest.raises(GatewayError) as unknown:
        table.match("GET", "/v1/unknown")
    assert unknown.value.detail.code == "ROUTE_NOT_FOUND"


def test_every_route_is_found_by_its_own_path() -> None:
    """The table tries only the templates of a path's length and resource: none is hidden."""
    routes = discover_routes()
    table = RouteTable(routes)
    for route in routes:
        path = "/".join("7" if s.startswith("{") else s for s in route.template.split("/"))
        found, params = table.match(route.verb, path)
        variables = [s[1:-1] for s in route.template.split("/") if s.startswith("{")]
        # a literal sibling (`/accept` before `/{id}`) may take a filled path only if its
        # segments are literally "7", which no template has
        assert (found.full_method, params) == (route.full_method, dict.fromkeys(variables, "7"))
    with pytest.raises(GatewayError) as unknown:
        table.match("GET", "/v1/unknown/7")
    assert unknown.value.status == 404


def test_internal_rpcs_are_never_routed() -> None:
    methods = {route.full_method for route in discover_routes()}
    assert not any("IdentityInternal" in m for m in methods)
    assert "/plixa.identity.v1.Identity/Register" in methods


# ── every response the API answers follows the JSON policy ────────────────────────────────────

SAMPLE_INSTANT = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)


def _populate(message: Message, depth: int = 0) -> None:
    """Sets every public field of a message (and of its messages, to a few levels)."""
    for field in transcode.public_fields(transcode.descriptor_of(message)):
        if field.message_type is not None:
            name = field.message_type.full_name
            if field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                key = _sample(field.message_type.fields_by_name["key"])
                if value_field.message_type is None:
                    getattr(message, field.name)[key] = _sample(value_field)
                elif depth < 3:
                    _populate(getattr(message, field.name)[key], depth + 1)
            elif name == transcode.TIMESTAMP:
                target = getattr(message, field.name)
                (target.add() if field.is_repeated else target).FromDatetime(SAMPLE_INSTANT)
            elif name in transcode.JSON_WKT:
                continue
            elif depth < 3:
                target = getattr(message, field.name)
                _populate(target.add() if field.is_repeated else target, depth + 1)
        elif field.is_repeated:
            getattr(message, field.name).append(_sample(field))
        else:
            setattr(message, field.name, _sample(field))


def _sample(field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        return field.enum_type.values[-1].number
    if field.type in transcode.INT_RANGES:
        return 2**40 if transcode.INT_RANGES[field.type][1] > 2**32 else 7
    if field.type in transcode.FLOAT_TYPES:
        return 1.5
    if field.type == FieldDescriptor.TYPE_BOOL:
        return True
    if field.type == FieldDescriptor.TYPE_BYTES:
        return b"\x00\xffplixa"
    return "text"


def _check(message: Message, out: Any, path: str) -> None:
    """`out` is the policy's JSON of `message`: every public field, each value as documented."""
    fields = transcode.public_fields(transcode.descriptor_of(message))
    assert isinstance(out, dict) and list(out) == [f.name for f in fields], path
    for field in fields:
        value, rendered, here = (
            getattr(message, field.name),
            out[field.name],
            f"{path}.{field.name}",
        )
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            assert list(rendered) == [str(k) for k in value], here
            for key, item in value.items():
                _check_value(value_field, item, rendered[str(key)], f"{here}.{key}")
        elif field.is_repeated:
            assert isinstance(rendered, list) and len(rendered) == len(value), here
            for index, item in enumerate(value):
                _check_value(field, item, rendered[index], f"{here}.{index}")
        elif field.has_presence and not message.HasField(field.name):
            assert rendered is None, here
        else:
            _check_value(field, value, rendered, here)


def _check_value(field: FieldDescriptor, value: Any, rendered: Any, path: str) -> None:
    if field.message_type is not None:
        name = field.message_type.full_name
        if name == transcode.TIMESTAMP:
            parsed = datetime.fromisoformat(rendered)
            assert parsed.tzinfo is not None and parsed == value.ToDatetime(tzinfo=UTC), path
        elif name in transcode.JSON_WKT:
            assert rendered == json_format.MessageToDict(value), path
        else:
            _check(value, rendered, path)
    elif field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        assert rendered == field.enum_type.values_by_number[value].name.lower(), path
    elif field.type == FieldDescriptor.TYPE_BYTES:
        assert base64.b64decode(rendered) == value, path
    else:  # ids and counts are JSON numbers, never strings; text, flags and floats as they are
        assert type(rendered) is type(value) and rendered == value, path


@pytest.mark.parametrize("filled", [True, False], ids=["every field set", "nothing set"])
def test_every_route_response_renders_by_the_policy(filled: bool) -> None:
    checked = set()
    for route in discover_routes():
        message = route.response_class()
        if message.DESCRIPTOR.full_name in checked:
            continue
        checked.add(message.DESCRIPTOR.full_name)
        if filled:
            _populate(message)
        _check(message, transcode.to_json(message), message.DESCRIPTOR.full_name)
        for field in transcode.public_fields(transcode.descriptor_of(message)):
            assert (
                transcode.field_out(message, field.name) == transcode.to_json(message)[field.name]
            )
    assert len(checked) > 20


def test_json_wkt_fields_refuse_text_protobuf_cannot_hold() -> None:
    """A Struct field takes any JSON object, but a lone surrogate is no UTF-8: 422, not 500."""
    from plixa.inbox.v1 import contacts_pb2

    message = contacts_pb2.SetContactCustomFieldsRequest()
    transcode.fill_message(message, {"values": {"3": "ok", "4": None}})
    assert json_format.MessageToDict(message.values) == {"3": "ok", "4": None}
    for bad in ({"3": "\ud800"}, {"\ud800": "x"}):
        with pytest.raises(GatewayError) as raised:
            transcode.fill_message(contacts_pb2.SetContactCustomFieldsRequest(), {"values": bad})
        assert raised.value.status == 422
