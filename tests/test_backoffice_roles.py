"""Role checks over the whole route table: a member's token (owner or agent, session or
impersonation) is refused on every staff route under /v1/admin, and a staff token on every
member route. The lists are generated from the route table, so a new route is walked without
touching this test."""

from __future__ import annotations

import re
from typing import Any

import httpx

from gateway.discovery import RouteSpec, discover_routes
from plixa.common.v1 import options_pb2
from scripts.mesh import Stack
from tests.conftest import bearer, errors_of, register
from tests.test_backoffice_tenants import in_directory, staff  # noqa: F401  (staff: fixture)

ROUTES = discover_routes()


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", template)


def send(api: httpx.Client, route: RouteSpec, token: str) -> httpx.Response:
    body: dict[str, object] | None = {} if route.rule.body else None
    return api.request(route.verb, concrete(route.template), headers=bearer(token), json=body)


def admin_routes() -> list[RouteSpec]:
    return [
        r
        for r in ROUTES
        if r.template.startswith("/v1/admin/") and r.rule.access != options_pb2.ACCESS_PUBLIC
    ]


def member_routes() -> list[RouteSpec]:
    """Routes for workspace members; signing out is left out (it would end the token)."""
    return [
        r
        for r in ROUTES
        if r.rule.access == options_pb2.ACCESS_AUTHENTICATED
        and not r.rule.two_factor_challenge
        and r.template != "/v1/auth/logout"
    ]


def test_the_walks_cover_the_backoffice() -> None:
    admin = {r.template for r in admin_routes()}
    assert {"/v1/admin/tenants", "/v1/admin/audit-logs", "/v1/admin/me"} <= admin
    assert all(r.rule.access == options_pb2.ACCESS_STAFF for r in admin_routes())
    assert len(member_routes()) >= 30


def test_a_member_token_is_refused_on_every_admin_route(api: httpx.Client) -> None:
    owner = register(api)
    for route in admin_routes():
        response = send(api, route, owner["token"])
        where = f"{route.verb} {route.template}: {response.status_code} {response.text[:200]}"
        assert response.status_code in (403, 404), where
        if response.status_code == 403:
            assert errors_of(response)[0]["code"] == "FORBIDDEN", where


def test_an_impersonation_token_is_refused_on_every_admin_route(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    owner = register(api)
    in_directory(api, staff["token"], owner["tenant"]["id"])
    issued = api.post(
        f"/v1/admin/tenants/{owner['tenant']['id']}/impersonate",
        headers=bearer(staff["token"]),
        json={"user_id": owner["user"]["id"]},
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["data"]["token"]
    for route in admin_routes():
        response = send(api, route, token)
        where = f"{route.verb} {route.template}: {response.status_code} {response.text[:200]}"
        assert response.status_code == 403, where
        assert errors_of(response)[0]["code"] == "IMPERSONATION_FORBIDDEN", where


def test_a_staff_token_is_refused_on_every_member_route(
    api: httpx.Client,
    stack: Stack,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    for route in member_routes():
        response = send(api, route, staff["token"])
        where = f"{route.verb} {route.template}: {response.status_code} {response.text[:200]}"
        assert response.status_code == 403, where
        assert errors_of(response)[0]["code"] == "FORBIDDEN", where
