"""API tokens through the gateway: plan gate, owner gate, shown once, abilities, revocation."""

from __future__ import annotations

import time
from typing import Any

import httpx

from scripts.mesh import Stack
from tests.conftest import (
    announce_plan,
    bearer,
    error_fields,
    errors_of,
    register,
    sql,
)
from tests.waiting import PATIENCE_SECONDS


def wait_for_plan(
    stack: Stack, tenant_id: int, plan: str, timeout: float = PATIENCE_SECONDS
) -> None:
    """Until identity has stored billing's event (a token first used after it sees the plan)."""
    deadline = time.monotonic() + timeout
    query = "SELECT 1 FROM identity.entitlements WHERE tenant_id = $1 AND plan = $2"
    while not sql(stack, query, tenant_id, plan):
        assert time.monotonic() < deadline, f"identity never heard of the {plan} plan"
        time.sleep(0.1)


def business_owner(api: httpx.Client, stack: Stack) -> dict[str, Any]:
    """A new workspace on the business plan; its panel token is unused, so nothing stale is
    cached for it."""
    owner = register(api)
    announce_plan(stack, owner["tenant"]["id"], "business")
    wait_for_plan(stack, owner["tenant"]["id"], "business")
    return owner


def wait_for_minting(api: httpx.Client, token: str, status: int) -> httpx.Response:
    """Tries to create an API token until the answer is `status` (plans take a moment)."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        response = api.post("/v1/api-tokens", headers=bearer(token), json={"name": "probe"})
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_api_tokens_need_the_plan_feature(api: httpx.Client, stack: Stack) -> None:
    owner = register(api)
    refused = api.post("/v1/api-tokens", headers=bearer(owner["token"]), json={"name": "CRM"})
    assert refused.status_code == 403
    assert errors_of(refused)[0]["code"] == "PLAN_FEATURE_REQUIRED"
    # Listing (and revoking) is open without the feature: after a downgrade the owner still
    # sees the tokens that exist (a deliberate deviation from the reference).
    listed = api.get("/v1/api-tokens", headers=bearer(owner["token"]))
    assert listed.status_code == 200 and listed.json()["data"] == []

    announce_plan(stack, owner["tenant"]["id"], "business")  # billing's event reaches identity
    assert wait_for_minting(api, owner["token"], 201).status_code == 201

    announce_plan(stack, owner["tenant"]["id"], "professional")  # a downgrade takes it away
    assert wait_for_minting(api, owner["token"], 403).status_code == 403


def test_create_shows_the_token_once_and_lists_only_api_tokens(
    api: httpx.Client, stack: Stack
) -> None:
    owner = business_owner(api, stack)
    headers = bearer(owner["token"])
    created = api.post(
        "/v1/api-tokens",
        headers=headers,
        json={"name": "CRM integration", "abilities": ["read", "write"], "expires_in_days": 90},
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["name"] == "CRM integration"
    assert data["abilities"] == ["read", "write"]
    token_id, _, secret = data["token"].partition("|")
    assert int(token_id) == data["id"] and secret.startswith(data["prefix"])
    assert data["expires_at"] is not None

    listing = api.get("/v1/api-tokens", headers=headers).json()["data"]
    assert [t["id"] for t in listing] == [data["id"]]  # the panel sign-in token is not listed
    assert "token" not in listing[0]
    assert listing[0]["prefix"] == data["prefix"]
    [row] = sql(stack, "SELECT name, kind FROM identity.tokens WHERE id = $1", data["id"])
    assert (row["name"], row["kind"]) == ("api:CRM integration", "api")

    works = api.get("/v1/me", headers=bearer(data["token"]))
    assert works.status_code == 200


def test_token_abilities_are_enforced(api: httpx.Client, stack: Stack) -> None:
    owner = business_owner(api, stack)
    headers = bearer(owner["token"])
    read_only = api.post(
        "/v1/api-tokens", headers=headers, json={"name": "reporting", "abilities": ["read"]}
    )
    token = read_only.json()["data"]["token"]
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200
    refused = api.patch("/v1/me", headers=bearer(token), json={"name": "Changed"})
    assert refused.status_code == 403
    assert errors_of(refused)[0]["code"] == "TOKEN_ABILITY_REQUIRED"

    bad = api.post("/v1/api-tokens", headers=headers, json={"name": "x", "abilities": ["admin"]})
    assert bad.status_code == 422 and error_fields(bad) == {"abilities"}
    bad_days = api.post("/v1/api-tokens", headers=headers, json={"name": "x", "expires_in_days": 0})
    assert bad_days.status_code == 422 and error_fields(bad_days) == {"expires_in_days"}


def test_revocation_is_immediate_and_tenant_scoped(api: httpx.Client, stack: Stack) -> None:
    owner = business_owner(api, stack)
    other = business_owner(api, stack)
    headers = bearer(owner["token"])
    created = api.post("/v1/api-tokens", headers=headers, json={"name": "zapier"}).json()["data"]
    assert api.get("/v1/me", headers=bearer(created["token"])).status_code == 200  # cached now

    foreign = api.delete(f"/v1/api-tokens/{created['id']}", headers=bearer(other["token"]))
    assert foreign.status_code == 404
    assert api.get("/v1/me", headers=bearer(created["token"])).status_code == 200

    assert api.delete(f"/v1/api-tokens/{created['id']}", headers=headers).status_code == 204
    assert api.get("/v1/me", headers=bearer(created["token"])).status_code == 401
    assert api.get("/v1/api-tokens", headers=headers).json()["data"] == []
    assert api.delete(f"/v1/api-tokens/{created['id']}", headers=headers).status_code == 404
