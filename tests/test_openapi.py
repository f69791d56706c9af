"""The OpenAPI document over HTTP: typed error responses for every operation, derived from the
route policy and the declared service errors; request constraints as JSON Schema keywords."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.discovery import discover_routes

ROOT = Path(__file__).resolve().parent.parent
ENVELOPE = "#/components/schemas/ErrorEnvelope"


@pytest.fixture(scope="module")
def spec(gateway_url: str) -> dict[str, Any]:
    response = httpx.get(f"{gateway_url}/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(verb, path, op) for path, ops in spec["paths"].items() for verb, op in ops.items()]


def codes(op: dict[str, Any], status: int) -> set[str]:
    response = op["responses"].get(str(status))
    if response is None:
        return set()
    schema = response["content"]["application/json"]["schema"]
    assert schema["allOf"][0] == {"$ref": ENVELOPE}
    return set(schema["allOf"][1]["properties"]["errors"]["items"]["properties"]["code"]["enum"])


def test_every_operation_documents_its_4xx_with_the_envelope(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert len(ops) == len(discover_routes())
    for verb, path, op in ops:
        client_errors = [s for s in op["responses"] if s.isdigit() and 400 <= int(s) < 500]
        assert client_errors, (verb, path)
        for status in client_errors:
            assert codes(op, int(status)), (verb, path, status)
        assert codes(op, 429) == {"RATE_LIMITED"}
        assert {"SERVICE_UNAVAILABLE"} <= codes(op, 503)
        assert codes(op, 504) == {"GATEWAY_TIMEOUT"}
        assert "Retry-After" in op["responses"]["429"]["headers"]


def test_error_codes_follow_the_route_policy(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    register = paths["/v1/auth/register"]["post"]
    assert codes(register, 401) == set()  # public: no token to refuse
    assert codes(register, 403) == set()
    assert {"VALIDATION_FAILED", "IDEMPOTENCY_KEY_REUSED"} <= codes(register, 422)
    assert codes(register, 413) == {"PAYLOAD_TOO_LARGE"}

    me = paths["/v1/me"]["get"]
    assert codes(me, 401) == {"UNAUTHENTICATED", "TWO_FACTOR_CHALLENGE_REQUIRED"}
    # allowed when suspended…, but an API token of a plan without API access is refused anywhere
    assert codes(me, 403) == {"FORBIDDEN", "TOKEN_ABILITY_REQUIRED", "PLAN_FEATURE_REQUIRED"}
    assert "PANEL_SESSION_REQUIRED" not in codes(me, 403)

    patch_me = paths["/v1/me"]["patch"]
    assert {"TENANT_SUSPENDED", "TWO_FACTOR_REQUIRED"} <= codes(patch_me, 403)

    tokens = paths["/v1/api-tokens"]["post"]
    assert {"FORBIDDEN", "PLAN_FEATURE_REQUIRED", "TOKEN_ABILITY_REQUIRED"} <= codes(tokens, 403)
    assert codes(tokens, 409) == {"IDEMPOTENCY_KEY_IN_USE"}
    assert "PANEL_SESSION_REQUIRED" in codes(tokens, 403)  # session_only: never an API token

    staff = paths["/v1/admin/me"]["get"]
    assert codes(staff, 403) == {"FORBIDDEN"}

    # What a route declares its service raises (proto: `errors` of the route option).
    accept = paths["/v1/team/invitations/accept"]["post"]
    assert codes(accept, 410) == {"INVITATION_EXPIRED"}
    assert {"INVITATION_ACCEPTED", "SEAT_LIMIT_REACHED"} <= codes(accept, 409)
    remove = paths["/v1/team/members/{id}"]["delete"]
    assert codes(remove, 404) == {"NOT_FOUND"}
    assert codes(remove, 409) == {"CANNOT_REMOVE_YOURSELF"}
    assert "Idempotency-Key" not in {p["name"] for p in remove["parameters"]}
    login = paths["/v1/auth/login"]["post"]
    assert codes(login, 401) == {"INVALID_CREDENTIALS"}
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= login["parameters"][0].items()


def test_declared_error_codes_are_raised_somewhere() -> None:
    """A declared code is a real one: it appears in the services' code or the kit's."""
    sources = "".join(path.read_text() for path in (ROOT / "services").rglob("*.py"))
    for route in discover_routes():
        for declared in route.rule.errors:
            code = declared.code
            spelled = code in sources or (
                code.startswith("INVITATION_") and 'f"INVITATION_{' in sources
            )
            assert spelled, (route.full_method, code)


def test_request_schemas_carry_the_constraints(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    schemas = spec["components"]["schemas"]
    register = paths["/v1/auth/register"]["post"]["requestBody"]["content"]["application/json"]
    fields = register["schema"]["properties"]
    assert set(register["schema"]["required"]) == {
        "name",
        "email",
        "password",
        "password_confirmation",
        "company_name",
        "country_code",
        "timezone",
    }
    assert fields["name"]["minLength"] == 1 and fields["name"]["maxLength"] == 255
    blank = fields["name"]["pattern"]
    assert re.search(blank, "  Lucia ") and not re.search(blank, " \t\u00a0 ")
    assert fields["email"]["format"] == "email" and fields["email"]["maxLength"] == 255
    assert (fields["password"]["minLength"], fields["password"]["maxLength"]) == (8, 128)
    assert fields["timezone"] == {"$ref": "#/components/schemas/TimeZone"}
    assert "America/Sao_Paulo" in schemas["TimeZone"]["enum"]
    assert fields["country_code"] == {"$ref": "#/components/schemas/CountryCode"}
    assert "BR" in schemas["CountryCode"]["enum"]
    assert fields["tax_id"]["anyOf"][0]["maxLength"] == 64
    assert re.fullmatch(fields["locale"]["anyOf"][0]["pattern"], "pt-BR")

    invitation = paths["/v1/team/invitations"]["post"]["requestBody"]["content"]
    role = invitation["application/json"]["schema"]["properties"]["role"]
    assert role["anyOf"][0]["enum"] == ["agent", "owner"]

    token = paths["/v1/api-tokens"]["post"]["requestBody"]["content"]["application/json"]
    token_fields = token["schema"]["properties"]
    assert token_fields["abilities"]["items"]["enum"] == ["read", "write"]
    days = token_fields["expires_in_days"]["anyOf"][0]
    assert (days["minimum"], days["maximum"]) == (1, 3650)
    assert token_fields["name"]["maxLength"] == 100

    availability = paths["/v1/me/availability"]["put"]["requestBody"]["content"]
    available = availability["application/json"]["schema"]
    assert available["required"] == ["is_available"]
    assert available["properties"]["is_available"] == {"type": "boolean"}  # required: no null

    config = paths["/v1/workspace-config"]["put"]["requestBody"]["content"]["application/json"]
    currency = config["schema"]["properties"]["currency"]["anyOf"][0]
    assert currency == {"$ref": "#/components/schemas/CurrencyCode"}
