"""The JSON policy of the gateway, on the real generated messages (no processes needed)."""

from __future__ import annotations

import io

import pytest
from google.protobuf import wrappers_pb2
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


def test_internal_rpcs_are_never_routed() -> None:
    methods = {route.full_method for route in discover_routes()}
    assert not any("IdentityInternal" in m for m in methods)
    assert "/plixa.identity.v1.Identity/Register" in methods
