"""Privilege through the gateway: API tokens lose every route with the plan's API access, never
manage credentials, security, the team or deletion (panel sessions only), and the founding owner
alone governs the other owners and the workspace's erasure."""

from __future__ import annotations

from typing import Any

import httpx

from scripts.mesh import Stack
from tests.conftest import (
    PASSWORD,
    announce_plan,
    bearer,
    errors_of,
    sql,
    unique_email,
    wait_for_status,
)
from tests.test_account_deletion import make_due, wait_until_gone
from tests.test_api_tokens import business_owner, wait_for_minting
from tests.test_team import invite


def mint(api: httpx.Client, session: str, abilities: list[str]) -> dict[str, Any]:
    created = api.post(
        "/v1/api-tokens",
        headers=bearer(session),
        json={"name": "integration", "abilities": abilities},
    )
    assert created.status_code == 201, created.text
    return created.json()["data"]


def code_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, errors_of(response)[0]["code"]


def test_a_downgrade_refuses_api_tokens_everywhere_and_keeps_the_panel(
    api: httpx.Client, stack: Stack
) -> None:
    owner = business_owner(api, stack)
    session = owner["token"]
    token = mint(api, session, ["read", "write"])
    assert api.get("/v1/me", headers=bearer(token["token"])).status_code == 200

    announce_plan(stack, owner["tenant"]["id"], "professional")  # no api_access
    refused = wait_for_status(api, "/v1/me", token["token"], 403)
    assert code_of(refused) == (403, "PLAN_FEATURE_REQUIRED")
    as_token = bearer(token["token"])
    for response in (
        api.get("/v1/team/members", headers=as_token),
        api.patch("/v1/me", headers=as_token, json={"name": "Changed"}),
        api.get("/v1/account/deletion", headers=as_token),  # open even to suspended workspaces
        api.get("/v1/api-tokens", headers=as_token),
        api.post("/v1/auth/logout", headers=as_token),
    ):
        assert code_of(response) == (403, "PLAN_FEATURE_REQUIRED"), response.text

    # The panel keeps working; the owner still sees and revokes the token, but mints no more.
    assert api.get("/v1/me", headers=bearer(session)).status_code == 200
    listed = api.get("/v1/api-tokens", headers=bearer(session))
    assert listed.status_code == 200, listed.text
    assert [t["id"] for t in listed.json()["data"]] == [token["id"]]
    again = api.post("/v1/api-tokens", headers=bearer(session), json={"name": "another"})
    assert code_of(again) == (403, "PLAN_FEATURE_REQUIRED")
    revoked = api.delete(f"/v1/api-tokens/{token['id']}", headers=bearer(session))
    assert revoked.status_code == 204, revoked.text
    assert api.get("/v1/api-tokens", headers=bearer(session)).json()["data"] == []

    # Back on a plan with API access, a new token works again (the rule follows the plan).
    announce_plan(stack, owner["tenant"]["id"], "business")
    minted = wait_for_minting(api, session, 201)
    assert minted.status_code == 201, minted.text
    assert api.get("/v1/me", headers=bearer(minted.json()["data"]["token"])).status_code == 200


def test_api_tokens_never_manage_credentials_security_team_or_deletion(
    api: httpx.Client, stack: Stack
) -> None:
    owner = business_owner(api, stack)
    session = owner["token"]
    write = mint(api, session, ["read", "write"])
    as_token = bearer(write["token"])
    assert api.patch("/v1/me", headers=as_token, json={"name": "Still works"}).status_code == 200

    agent_invite = invite(api, session, unique_email("agent")).json()["data"]
    session_only = [
        ("mint a token", "POST", "/v1/api-tokens", {"name": "forever"}),
        ("revoke a token", "DELETE", f"/v1/api-tokens/{write['id']}", None),
        (
            "invite an owner",
            "POST",
            "/v1/team/invitations",
            {"email": unique_email("owner"), "role": "owner"},
        ),
        ("resend an invitation", "POST", f"/v1/team/invitations/{agent_invite['id']}/resend", None),
        ("cancel an invitation", "DELETE", f"/v1/team/invitations/{agent_invite['id']}", None),
        ("remove a member", "DELETE", f"/v1/team/members/{owner['user']['id']}", None),
        ("switch off 2FA for all", "PUT", "/v1/security-config", {"require_two_factor": False}),
        ("set up 2FA", "POST", "/v1/me/2fa/setup", {"password": PASSWORD}),
        ("turn 2FA off", "DELETE", "/v1/me/2fa", {"password": PASSWORD}),
        ("new recovery codes", "POST", "/v1/me/2fa/recovery-codes", {"password": PASSWORD}),
        ("delete the account", "POST", "/v1/account/deletion", {"password": PASSWORD}),
        ("cancel the deletion", "DELETE", "/v1/account/deletion", None),
    ]
    for what, verb, path, body in session_only:
        response = api.request(verb, path, headers=as_token, json=body)
        assert code_of(response) == (403, "PANEL_SESSION_REQUIRED"), (what, response.text)
    assert [t["id"] for t in api.get("/v1/api-tokens", headers=bearer(session)).json()["data"]] == [
        write["id"]
    ]  # nothing was minted
    assert (
        sql(
            stack,
            "SELECT deletion_scheduled_for FROM identity.users WHERE id = $1",
            owner["user"]["id"],
        )[0]["deletion_scheduled_for"]
        is None
    )

    # The panel session does each of them.
    panel = bearer(session)
    assert api.post("/v1/api-tokens", headers=panel, json={"name": "ok"}).status_code == 201
    owner_invite = api.post(
        "/v1/team/invitations", headers=panel, json={"email": unique_email(), "role": "owner"}
    )
    assert owner_invite.status_code == 201, owner_invite.text
    turned_off = api.put("/v1/security-config", headers=panel, json={"require_two_factor": False})
    assert turned_off.status_code == 200, turned_off.text
    deletion = api.post("/v1/account/deletion", headers=panel, json={"password": PASSWORD})
    assert deletion.status_code == 202, deletion.text
    assert api.delete("/v1/account/deletion", headers=panel).status_code == 200
    assert api.delete(f"/v1/api-tokens/{write['id']}", headers=panel).status_code == 204


def join_as(api: httpx.Client, founder: str, role: str) -> dict[str, Any]:
    created = invite(api, founder, unique_email(role), role)
    assert created.status_code == 201, created.text
    accepted = api.post(
        "/v1/team/invitations/accept",
        json={"token": created.json()["data"]["token"], "name": "Co", "password": PASSWORD},
    )
    assert accepted.status_code == 201, accepted.text
    return accepted.json()["data"]


def test_only_the_founder_governs_owners_and_erases_the_workspace(
    api: httpx.Client, stack: Stack
) -> None:
    founder = business_owner(api, stack)  # seats for five members
    boss = founder["token"]
    co_owner = join_as(api, boss, "owner")
    assert co_owner["user"]["role"] == "owner"
    founders = sql(
        stack,
        "SELECT id FROM identity.users WHERE tenant_id = $1 AND is_founder",
        founder["tenant"]["id"],
    )
    assert [row["id"] for row in founders] == [founder["user"]["id"]]  # marked at registration
    agent = join_as(api, boss, "agent")
    co = bearer(co_owner["token"])

    # What a co-owner may not do.
    remove_founder = api.delete(f"/v1/team/members/{founder['user']['id']}", headers=co)
    assert code_of(remove_founder) == (403, "FOUNDER_REQUIRED")
    more_owners = invite(api, co_owner["token"], unique_email("owner"), "owner")
    assert code_of(more_owners) == (403, "FOUNDER_REQUIRED")
    pending_owner = invite(api, boss, unique_email("owner"), "owner").json()["data"]
    resend = api.post(f"/v1/team/invitations/{pending_owner['id']}/resend", headers=co)
    assert code_of(resend) == (403, "FOUNDER_REQUIRED")  # its link would make an owner
    assert api.get("/v1/account/deletion", headers=co).json()["data"]["scope"] == "user"
    second_co_owner = join_as(api, boss, "owner")
    remove_owner = api.delete(f"/v1/team/members/{second_co_owner['user']['id']}", headers=co)
    assert code_of(remove_owner) == (403, "FOUNDER_REQUIRED")
    # What a co-owner still does: run the team of agents.
    assert invite(api, co_owner["token"], unique_email("agent")).status_code == 201
    removed_agent = api.delete(f"/v1/team/members/{agent['user']['id']}", headers=co)
    assert removed_agent.status_code == 204, removed_agent.text

    # The founder may: remove an owner, and erase the workspace by deleting their account.
    by_founder = api.delete(
        f"/v1/team/members/{second_co_owner['user']['id']}", headers=bearer(boss)
    )
    assert by_founder.status_code == 204, by_founder.text
    founder_scope = api.get("/v1/account/deletion", headers=bearer(boss)).json()["data"]["scope"]
    assert founder_scope == "workspace"

    # A co-owner's own deletion erases their account only, never the workspace.
    requested = api.post("/v1/account/deletion", headers=co, json={"password": PASSWORD})
    assert requested.status_code == 202, requested.text
    assert requested.json()["data"]["scope"] == "user"
    make_due(stack, co_owner["user"]["id"])
    wait_until_gone(api, co_owner["token"])
    assert api.get("/v1/me", headers=bearer(boss)).status_code == 200
    tenant = founder["tenant"]["id"]
    assert sql(stack, "SELECT 1 FROM identity.tenants WHERE id = $1", tenant) != []
    [row] = sql(stack, "SELECT is_founder FROM identity.users WHERE id = $1", founder["user"]["id"])
    assert row["is_founder"] is True
