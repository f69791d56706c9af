"""Team invitations, joining, members and seats, through the gateway."""

from __future__ import annotations

from typing import Any

import httpx

from scripts.mesh import Stack
from tests.conftest import (
    PASSWORD,
    bearer,
    error_fields,
    errors_of,
    register,
    sql,
    unique_email,
)
from tests.test_two_factor import enable_two_factor


def invite(api: httpx.Client, owner_token: str, email: str, role: str = "agent") -> httpx.Response:
    return api.post(
        "/v1/team/invitations", headers=bearer(owner_token), json={"email": email, "role": role}
    )


def join(api: httpx.Client, owner_token: str, name: str = "Rui Agent") -> dict[str, Any]:
    """Invites a new agent and accepts for them; returns the agent's session."""
    email = unique_email("agent")
    token = invite(api, owner_token, email).json()["data"]["token"]
    accepted = api.post(
        "/v1/team/invitations/accept", json={"token": token, "name": name, "password": PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    return accepted.json()["data"]


def test_invite_resend_accept(api: httpx.Client, stack: Stack) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    email = unique_email("agent")
    created = invite(api, owner["token"], email)
    assert created.status_code == 201, created.text
    invitation = created.json()["data"]
    assert (invitation["email"], invitation["role"], invitation["status"]) == (
        email,
        "agent",
        "pending",
    )
    assert invitation["accept_url"].endswith(invitation["token"])
    [row] = sql(
        stack, "SELECT token_sealed FROM identity.invitations WHERE id = $1", invitation["id"]
    )
    assert invitation["token"] not in row["token_sealed"]

    listed = api.get("/v1/team/invitations", headers=headers).json()["data"]
    assert [(i["id"], i["token"], i["accept_url"]) for i in listed] == [
        (invitation["id"], None, None)
    ]

    resent = api.post(f"/v1/team/invitations/{invitation['id']}/resend", headers=headers)
    assert resent.status_code == 200
    assert resent.json()["data"]["accept_url"] == invitation["accept_url"]
    assert resent.json()["data"]["expires_at"] == invitation["expires_at"]

    accepted = api.post(
        "/v1/team/invitations/accept",
        json={"token": invitation["token"], "name": "Rui Agent", "password": PASSWORD},
    )
    assert accepted.status_code == 201, accepted.text
    session = accepted.json()["data"]
    assert session["user"]["role"] == "agent" and session["user"]["email"] == email
    assert session["tenant"]["id"] == owner["tenant"]["id"]
    assert api.get("/v1/me", headers=bearer(session["token"])).status_code == 200
    # The one-shot token is spent.
    again = api.post(
        "/v1/team/invitations/accept",
        json={"token": invitation["token"], "name": "Again", "password": PASSWORD},
    )
    assert again.status_code == 409 and errors_of(again)[0]["code"] == "INVITATION_ACCEPTED"
    cancel = api.delete(f"/v1/team/invitations/{invitation['id']}", headers=headers)
    assert cancel.status_code == 409 and errors_of(cancel)[0]["code"] == "INVITATION_ACCEPTED"

    members = api.get("/v1/team/members", headers=bearer(session["token"])).json()["data"]
    assert {m["email"] for m in members} == {owner["user"]["email"], email}
    subjects = {
        r["subject"]
        for r in sql(
            stack, "SELECT subject FROM identity.outbox WHERE tenant_id = $1", owner["tenant"]["id"]
        )
    }
    assert {"identity.invitation.sent", "identity.member.joined"} <= subjects


def test_cancelled_and_expired_invitations_are_refused(api: httpx.Client, stack: Stack) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    cancelled = invite(api, owner["token"], unique_email()).json()["data"]
    assert api.delete(f"/v1/team/invitations/{cancelled['id']}", headers=headers).status_code == 204
    refused = api.post(
        "/v1/team/invitations/accept",
        json={"token": cancelled["token"], "name": "X", "password": PASSWORD},
    )
    assert refused.status_code == 409 and errors_of(refused)[0]["code"] == "INVITATION_CANCELLED"

    expired = invite(api, owner["token"], unique_email()).json()["data"]
    # Seven days pass.
    sql(
        stack,
        "UPDATE identity.invitations SET expires_at = now() - interval '1 minute' WHERE id = $1",
        expired["id"],
    )
    late = api.post(
        "/v1/team/invitations/accept",
        json={"token": expired["token"], "name": "X", "password": PASSWORD},
    )
    assert late.status_code == 410 and errors_of(late)[0]["code"] == "INVITATION_EXPIRED"
    statuses = {
        i["id"]: i["status"]
        for i in api.get("/v1/team/invitations", headers=headers).json()["data"]
    }
    assert statuses == {cancelled["id"]: "cancelled", expired["id"]: "expired"}
    resend = api.post(f"/v1/team/invitations/{expired['id']}/resend", headers=headers)
    assert resend.status_code == 409

    bogus = api.post(
        "/v1/team/invitations/accept", json={"token": "nope", "name": "X", "password": PASSWORD}
    )
    assert bogus.status_code == 422 and error_fields(bogus) == {"token"}


def test_invitation_input_is_validated(api: httpx.Client) -> None:
    owner = register(api)
    bad = invite(api, owner["token"], "not-an-email", role="admin")
    assert bad.status_code == 422 and error_fields(bad) == {"email", "role"}
    taken = invite(api, owner["token"], owner["user"]["email"])
    assert taken.status_code == 422 and error_fields(taken) == {"email"}
    email = unique_email()
    assert invite(api, owner["token"], email).status_code == 201
    twice = invite(api, owner["token"], email)
    assert twice.status_code == 422 and error_fields(twice) == {"email"}


def test_agents_are_refused_owner_routes(api: httpx.Client) -> None:
    owner = register(api)
    agent = join(api, owner["token"])
    refused = invite(api, agent["token"], unique_email())
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "FORBIDDEN"
    assert (
        api.put(
            "/v1/security-config",
            headers=bearer(agent["token"]),
            json={"require_two_factor": False},
        ).status_code
        == 403
    )
    assert api.get("/v1/team/members", headers=bearer(agent["token"])).status_code == 200


def test_other_tenants_invitations_and_members_are_not_found(api: httpx.Client) -> None:
    first = register(api)
    second = register(api)
    invitation = invite(api, first["token"], unique_email()).json()["data"]
    agent = join(api, first["token"])
    theirs = bearer(second["token"])
    assert (
        api.post(f"/v1/team/invitations/{invitation['id']}/resend", headers=theirs).status_code
        == 404
    )
    assert api.delete(f"/v1/team/invitations/{invitation['id']}", headers=theirs).status_code == 404
    assert api.delete(f"/v1/team/members/{agent['user']['id']}", headers=theirs).status_code == 404
    assert api.get(f"/v1/team/members/{agent['user']['id']}", headers=theirs).status_code == 404
    assert api.get("/v1/me", headers=bearer(agent["token"])).status_code == 200


def test_removing_a_member_kills_their_tokens_at_once(api: httpx.Client, stack: Stack) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    agent = join(api, owner["token"])
    assert api.get("/v1/me", headers=bearer(agent["token"])).status_code == 200  # cached
    yourself = api.delete(f"/v1/team/members/{owner['user']['id']}", headers=headers)
    assert (
        yourself.status_code == 409 and errors_of(yourself)[0]["code"] == "CANNOT_REMOVE_YOURSELF"
    )

    assert api.delete(f"/v1/team/members/{agent['user']['id']}", headers=headers).status_code == 204
    assert api.get("/v1/me", headers=bearer(agent["token"])).status_code == 401
    assert [m["id"] for m in api.get("/v1/team/members", headers=headers).json()["data"]] == [
        owner["user"]["id"]
    ]
    removed = sql(
        stack,
        "SELECT count(*) AS n FROM identity.outbox"
        " WHERE subject = 'identity.member.removed' AND tenant_id = $1",
        owner["tenant"]["id"],
    )
    assert removed[0]["n"] == 1


def test_seats_come_from_the_plan(api: httpx.Client) -> None:
    owner = register(api)  # starter: 3 seats, the owner takes one
    join(api, owner["token"])
    assert invite(api, owner["token"], unique_email()).status_code == 201
    full = invite(api, owner["token"], unique_email())
    assert full.status_code == 409
    assert errors_of(full)[0]["code"] == "SEAT_LIMIT_REACHED"


def test_required_two_factor_blocks_members_without_it(api: httpx.Client) -> None:
    owner = register(api)
    agent = join(api, owner["token"])
    enable_two_factor(api, owner["token"])
    on = api.put(
        "/v1/security-config", headers=bearer(owner["token"]), json={"require_two_factor": True}
    )
    assert on.status_code == 200
    blocked = api.get("/v1/team/members", headers=bearer(agent["token"]))
    assert blocked.status_code == 403
    assert errors_of(blocked)[0]["code"] == "TWO_FACTOR_REQUIRED"
    # The agent can still reach their two-factor set-up, then everything again.
    assert api.get("/v1/me/2fa", headers=bearer(agent["token"])).status_code == 200
    enable_two_factor(api, agent["token"])
    assert api.get("/v1/team/members", headers=bearer(agent["token"])).status_code == 200
