"""Request constraints declared once in proto: refused by the gateway with 422 naming the field,
and bodies valid by the published document accepted (register, invitations, accept, logo)."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest

from gateway import constraints
from gateway.errors import GatewayError
from plixa.identity.v1 import api_tokens_pb2, availability_pb2, identity_pb2, team_pb2
from tests.conftest import bearer, errors_of, register, registration, unique_email

PNG_HEADER = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR"


def refused_fields(response: httpx.Response) -> set[str | None]:
    assert response.status_code == 422, response.text
    assert {e["code"] for e in errors_of(response)} == {"VALIDATION_FAILED"}
    return {e.get("field") for e in errors_of(response)}


def problems(message: Any) -> dict[str, str]:
    """What the gateway's check says of a message, by field (no call, no service)."""
    try:
        constraints.validate(message)
    except GatewayError as error:
        return {f.field: f.message for f in error.detail.fields}
    return {}


def test_each_kind_of_constraint_is_checked_by_the_gateway() -> None:
    valid = identity_pb2.RegisterRequest(**registration())
    assert problems(valid) == {}
    assert problems(identity_pb2.RegisterRequest()).keys() == {
        "name",
        "email",
        "password",
        "password_confirmation",
        "company_name",
        "country_code",
        "timezone",
    }
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"name": "   "}, "name", "The name field is required."),  # blank is missing
        ({"name": "x" * 256}, "name", "may not be longer than 255 characters"),
        ({"email": "lucia.example.com"}, "email", "valid email address"),
        ({"password": "short"}, "password", "at least 8 characters"),
        ({"password": "p" * 129}, "password", "longer than 128"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
        ({"country_code": "XX"}, "country_code", "ISO 3166-1"),
        ({"locale": "Portuguese"}, "locale", "language tag"),
        ({"tax_id": "1" * 65}, "tax_id", "longer than 64"),
    ]
    for change, field, text in cases:
        found = problems(identity_pb2.RegisterRequest(**(registration() | change)))
        assert found.keys() == {field}, (change, found)
        assert text in found[field]
    # The kit's own leniency holds: trimmed text, lower-case country codes.
    padded = registration(name="  Lucia  ", country_code="br", timezone=" Europe/Lisbon ")
    assert problems(identity_pb2.RegisterRequest(**padded)) == {}

    assert problems(team_pb2.CreateInvitationRequest(email="a@b.co", role="admin")) == {
        "role": "The role must be one of: agent, owner."
    }
    token = api_tokens_pb2.CreateApiTokenRequest
    assert problems(token(name="crm", abilities=["read", "delete"])).keys() == {"abilities"}
    assert problems(token(name="crm", expires_in_days=0)).keys() == {"expires_in_days"}
    assert problems(token(name="crm", expires_in_days=3651)).keys() == {"expires_in_days"}
    assert problems(token(name="crm", expires_in_days=3650)) == {}
    assert problems(availability_pb2.SetAvailabilityRequest()).keys() == {"is_available"}
    assert problems(availability_pb2.SetAvailabilityRequest(is_available=False)) == {}
    # PATCH: an absent name is no change; a sent one may not be blank.
    assert problems(identity_pb2.UpdateMeRequest()) == {}
    assert problems(identity_pb2.UpdateMeRequest(name=" ")).keys() == {"name"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "short", "password_confirmation": "short"}, "password"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"country_code": "ZZ"}, "country_code"),
        ({"locale": "pt-BRAZIL"}, "locale"),
        ({"company_name": "c" * 256}, "company_name"),
    ],
)
def test_register_refuses_each_broken_field(
    api: httpx.Client, change: dict[str, Any], field: str
) -> None:
    assert field in refused_fields(api.post("/v1/auth/register", json=registration(**change)))


def test_other_routes_refuse_broken_fields(api: httpx.Client) -> None:
    owner = bearer(register(api)["token"])
    invite = api.post(
        "/v1/team/invitations", json={"email": "x@y.z", "role": "boss"}, headers=owner
    )
    assert refused_fields(invite) == {"role"}
    missing = api.post("/v1/team/invitations", json={}, headers=owner)
    assert refused_fields(missing) == {"email"}
    blank_name = api.patch("/v1/me", json={"name": "  "}, headers=owner)
    assert refused_fields(blank_name) == {"name"}
    availability = api.put("/v1/me/availability", json={}, headers=owner)
    assert refused_fields(availability) == {"is_available"}
    currency = api.put("/v1/workspace-config", json={"currency": "XYZ"}, headers=owner)
    assert refused_fields(currency) == {"currency"}
    no_logo = api.post(
        "/v1/workspace-config/logo", files={"logo_filename": (None, "x.png")}, headers=owner
    )
    assert refused_fields(no_logo) == {"logo"}
    huge = PNG_HEADER + bytes(1024 * 1024)
    too_big = api.post(
        "/v1/workspace-config/logo", files={"logo": ("x.png", huge, "image/png")}, headers=owner
    )
    assert refused_fields(too_big) == {"logo"}
    accept = api.post(
        "/v1/team/invitations/accept", json={"token": "t", "name": "N", "password": "1234567"}
    )
    assert refused_fields(accept) == {"password"}


# ── bodies valid by the document are accepted ────────────────────────────────────────────────


@pytest.fixture(scope="module")
def document(gateway_url: str) -> dict[str, Any]:
    spec: dict[str, Any] = httpx.get(f"{gateway_url}/v1/openapi.json").json()
    return spec


def body_schema(document: dict[str, Any], path: str, kind: str = "application/json") -> Any:
    return document["paths"][path]["post"]["requestBody"]["content"][kind]["schema"]


def edge_text(schema: dict[str, Any], document: dict[str, Any]) -> str:
    """The longest text the schema allows, padded with spaces where trimming allows it."""
    if "$ref" in schema:
        values = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]["enum"]
        return str(values[-1])
    if "anyOf" in schema:
        return edge_text(schema["anyOf"][0], document)
    longest = schema.get("maxLength", 20)
    return " " + "n" * (longest - 2) + " " if "pattern" in schema else "p" * longest


def test_documented_valid_bodies_are_accepted(api: httpx.Client, document: dict[str, Any]) -> None:
    schema = body_schema(document, "/v1/auth/register")
    password = edge_text(schema["properties"]["password"], document)  # 128 characters
    assert len(password) == 128
    name = edge_text(schema["properties"]["name"], document)
    assert len(name) == 255 and re.search(schema["properties"]["name"]["pattern"], name)
    email = unique_email()
    body = {
        "name": name,
        "email": email,
        "password": password,
        "password_confirmation": password,
        "company_name": edge_text(schema["properties"]["company_name"], document),
        "country_code": edge_text(schema["properties"]["country_code"], document),
        "tax_id": "9" * schema["properties"]["tax_id"]["anyOf"][0]["maxLength"],
        "timezone": edge_text(schema["properties"]["timezone"], document),
        "locale": "pt_BR",
    }
    assert set(body) == set(schema["properties"])
    registered = api.post("/v1/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    # Only the required keys, at their shortest.
    short = {key: body[key] for key in schema["required"]}
    short |= {
        "email": "a@b.co",
        "name": "N",
        "password": "8chars!!",
        "password_confirmation": "8chars!!",
    }
    assert api.post("/v1/auth/register", json=short).status_code == 201
    owner = bearer(registered.json()["data"]["token"])

    invitation_schema = body_schema(document, "/v1/team/invitations")
    assert invitation_schema["required"] == ["email"]
    for role in invitation_schema["properties"]["role"]["anyOf"][0]["enum"]:
        invited = api.post(
            "/v1/team/invitations", json={"email": unique_email(), "role": role}, headers=owner
        )
        assert invited.status_code == 201, invited.text
    token = invited.json()["data"]["token"]

    accept_schema = body_schema(document, "/v1/team/invitations/accept")
    assert set(accept_schema["required"]) == {"token", "name", "password"}
    accepted = api.post(
        "/v1/team/invitations/accept",
        json={
            "token": token,
            "name": edge_text(accept_schema["properties"]["name"], document),
            "password": "p" * 8,
            "password_confirmation": "p" * 8,
            "locale": "en",
        },
    )
    assert accepted.status_code == 201, accepted.text

    logo = PNG_HEADER + bytes(1024 * 1024 - len(PNG_HEADER))  # exactly the documented 1 MB
    form_schema = body_schema(document, "/v1/workspace-config/logo", "multipart/form-data")
    assert form_schema["properties"]["logo"]["format"] == "binary"
    uploaded = api.post(
        "/v1/workspace-config/logo", files={"logo": ("logo.png", logo, "image/png")}, headers=owner
    )
    assert uploaded.status_code == 200, uploaded.text
    as_json = api.post(
        "/v1/workspace-config/logo",
        json={"logo": base64.b64encode(PNG_HEADER + bytes(100)).decode()},
        headers=owner,
    )
    assert as_json.status_code == 200, as_json.text


def test_text_the_database_cannot_hold_and_broken_forms_are_422(api: httpx.Client) -> None:
    owner = bearer(register(api)["token"])
    nul = api.patch("/v1/me", json={"name": "a\u0000b"}, headers=owner)
    assert refused_fields(nul) == {"name"}
    surrogate = api.patch(
        "/v1/me",
        content=b'{"name": "\\ud800"}',
        headers={**owner, "Content-Type": "application/json"},
    )
    assert refused_fields(surrogate) == {"name"}
    no_boundary = api.post(  # multipart is taken where a file is declared (elsewhere: 415)
        "/v1/workspace-config/logo",
        content=b'{"logo": "x"}',
        headers={**owner, "Content-Type": "multipart/form-data"},
    )
    assert refused_fields(no_boundary) == {"body"}
    base64_line = api.post(
        "/v1/workspace-config/logo",
        json={"logo": base64.b64encode(PNG_HEADER + bytes(10)).decode() + "\n"},
        headers=owner,
    )
    assert base64_line.status_code == 200, base64_line.text
