"""CORS over HTTP against real gateways: the development allowlist (the local panel), a
production gateway with no origins, and one with its own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from scripts.mesh import Stack
from tests.conftest import bearer, errors_of, register

PANEL = "http://127.0.0.1:3000"
STRANGER = "https://evil.example"


def preflight(
    client: httpx.Client | str, path: str, origin: str, method: str = "GET"
) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    if isinstance(client, str):
        return httpx.options(f"{client}{path}", headers=headers)
    return client.options(path, headers=headers)


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_a_preflight_from_the_panel_gets_the_verbs_of_the_path(api: httpx.Client) -> None:
    for origin in (PANEL, "http://localhost:3000"):
        response = preflight(api, "/v1/me", origin, "PATCH")
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Access-Control-Allow-Methods"] == "GET, PATCH"
        allowed = {
            h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert allowed == {"authorization", "content-type", "idempotency-key", "x-request-id"}
        assert "access-control-allow-credentials" not in response.headers  # bearer, no cookies
        assert "Origin" in response.headers["Vary"]
        assert int(response.headers["Access-Control-Max-Age"]) > 0

    # Verbs come from the route table, path variables included.
    invitation = preflight(api, "/v1/team/invitations/42", PANEL, "DELETE")
    assert invitation.headers["Access-Control-Allow-Methods"] == "DELETE"
    listing = preflight(api, "/v1/team/invitations", PANEL, "POST")
    assert listing.headers["Access-Control-Allow-Methods"] == "GET, POST"
    document = preflight(api, "/v1/openapi.json", PANEL)
    assert document.headers["Access-Control-Allow-Methods"] == "GET"


def test_a_preflight_from_another_origin_gets_no_cors_headers(api: httpx.Client) -> None:
    refused = preflight(api, "/v1/me", STRANGER)
    assert refused.status_code == 403
    assert cors_headers(refused) == {}
    assert errors_of(refused)[0]["code"] == "CORS_ORIGIN_NOT_ALLOWED"

    unknown_path = preflight(api, "/v1/nothing-here", PANEL)
    assert unknown_path.status_code == 404
    assert "access-control-allow-methods" not in unknown_path.headers

    # An OPTIONS that is not a preflight is answered by the route table, as before.
    plain = api.options("/v1/me")
    assert plain.status_code == 405
    assert plain.headers["Allow"] == "GET, PATCH"


def test_answers_to_the_panel_expose_our_headers(api: httpx.Client) -> None:
    token = register(api)["token"]
    ok = api.get("/v1/me", headers={**bearer(token), "Origin": PANEL})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == PANEL
    exposed = {h.strip() for h in ok.headers["Access-Control-Expose-Headers"].split(",")}
    assert {
        "X-Request-Id",
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    } <= exposed
    assert "Origin" in ok.headers["Vary"]
    assert "access-control-allow-credentials" not in ok.headers

    # Errors too, or the panel could not read why it was refused.
    refused = api.get("/v1/me", headers={"Origin": PANEL})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == PANEL

    # Another origin is served (a token is a token) but its browser may not read the answer.
    stranger = api.get("/v1/me", headers={**bearer(token), "Origin": STRANGER})
    assert stranger.status_code == 200
    assert cors_headers(stranger) == {}
    assert "Origin" in stranger.headers["Vary"]  # a cache must not hand one origin's answer on


@pytest.fixture(scope="module")
def production_gateways(stack: Stack) -> Iterator[tuple[str, str]]:
    # Production wants a real secret; these gateways only answer CORS and 401 themselves.
    production = {"PLIXA_ENV": "production", "PLIXA_INTERNAL_SECRET": secrets.token_hex(32)}
    closed = stack.start_gateway("gateway-cors-closed", env=production)
    named = stack.start_gateway(
        "gateway-cors-named",
        env={**production, "PLIXA_CORS_ORIGINS": "https://app.plixa.app/"},
    )
    yield closed, named
    stack.stop_process("gateway-cors-closed")
    stack.stop_process("gateway-cors-named")


def test_production_allows_no_origin_but_those_it_names(
    production_gateways: tuple[str, str],
) -> None:
    closed, named = production_gateways
    for origin in (PANEL, "https://app.plixa.app"):
        response = preflight(closed, "/v1/me", origin)
        assert cors_headers(response) == {}
        assert response.status_code == 405  # no CORS at all: the route table answers
        assert cors_headers(httpx.get(f"{closed}/v1/me", headers={"Origin": origin})) == {}

    local = preflight(named, "/v1/me", PANEL)
    assert local.status_code == 403
    assert cors_headers(local) == {}
    app = preflight(named, "/v1/me", "https://app.plixa.app")
    assert app.status_code == 204
    assert app.headers["Access-Control-Allow-Origin"] == "https://app.plixa.app"
