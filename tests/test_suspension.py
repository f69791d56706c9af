"""A suspended workspace, walked over the whole route table: every member route answers 403
TENANT_SUSPENDED, except those declared `allowed_when_suspended`, which still answer; public
routes still answer. Nothing sets the status yet (the backoffice will), so the test sets it in
identity's table directly, before the member's token is first used: the gateway then resolves a
fresh principal, with no cached one to wait out."""

from __future__ import annotations

import re

import httpx

from gateway.discovery import RouteSpec, discover_routes
from plixa.common.v1 import options_pb2
from scripts.mesh import Stack
from tests.conftest import PASSWORD, bearer, errors_of, register, registration, sql

ROUTES = discover_routes()


def concrete(template: str) -> str:
    """The path with every `{param}` named by a number (an id that may not exist)."""
    return re.sub(r"\{[^}]+\}", "1", template)


def send(
    api: httpx.Client, route: RouteSpec, token: str | None, body: object = None
) -> httpx.Response:
    headers = bearer(token) if token else {}
    if route.rule.body and body is None:
        body = {}
    return api.request(route.verb, concrete(route.template), headers=headers, json=body)


def member_routes() -> list[RouteSpec]:
    """Routes a workspace member's token opens, but the second half of a two-factor sign-in
    (only a challenge token opens it; signing in stays open, like the public login)."""
    return [
        r
        for r in ROUTES
        if r.rule.access == options_pb2.ACCESS_AUTHENTICATED and not r.rule.two_factor_challenge
    ]


def test_the_walk_covers_the_member_routes() -> None:
    routes = member_routes()
    assert len(routes) >= 30
    assert any(r.rule.allowed_when_suspended for r in routes)
    assert any(not r.rule.allowed_when_suspended for r in routes)


def test_a_suspended_workspace_answers_only_what_suspension_allows(
    api: httpx.Client, stack: Stack
) -> None:
    email = registration()["email"]
    owner = register(api, email=email)
    token = owner["token"]  # not used yet: no principal of it is cached anywhere
    sql(
        stack,
        "UPDATE identity.tenants SET status = 'suspended' WHERE id = $1",
        owner["tenant"]["id"],
    )

    refused, still_open = [], []
    routes = member_routes()
    # Signing out revokes the token: walked last.
    routes.sort(key=lambda r: r.template == "/v1/auth/logout")
    for route in routes:
        response = send(api, route, token)
        where = f"{route.verb} {route.template}: {response.status_code} {response.text[:200]}"
        if route.rule.allowed_when_suspended:
            assert response.status_code < 500 and response.status_code != 403, where
            assert response.status_code != 401, where  # the token itself still works
            still_open.append(route.template)
        else:
            assert response.status_code == 403, where
            assert errors_of(response)[0]["code"] == "TENANT_SUSPENDED", where
            refused.append(route.template)
    assert "/v1/me" in still_open and "/v1/auth/logout" in still_open
    assert "/v1/team/members" in refused and "/v1/api-tokens" in refused
    me = api.get("/v1/me", headers=bearer(token))
    assert me.status_code == 401  # signed out by the walk's last call

    # Public routes still answer: signing in works (and the workspace shows as suspended).
    for route in ROUTES:
        if route.rule.access != options_pb2.ACCESS_PUBLIC:
            continue
        response = send(api, route, None)
        where = f"{route.verb} {route.template}: {response.status_code} {response.text[:200]}"
        assert response.status_code < 500 and response.status_code != 403, where
    signed_in = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    again = signed_in.json()["data"]
    assert again["tenant"]["status"] == "suspended"
    assert api.get("/v1/me", headers=bearer(again["token"])).status_code == 200
    refused_again = api.get("/v1/team/members", headers=bearer(again["token"]))
    assert refused_again.status_code == 403
    assert errors_of(refused_again)[0]["code"] == "TENANT_SUSPENDED"
