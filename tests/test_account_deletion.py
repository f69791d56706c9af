"""Account deletion: requested with the password, cancellable in the grace period, then carried
out by the scheduled job, which erases and tells every service to erase too."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from scripts.mesh import Stack
from tests.conftest import PASSWORD, bearer, error_fields, errors_of, register, sql
from tests.test_team import join
from tests.waiting import PATIENCE_SECONDS


def wait_until_gone(api: httpx.Client, token: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while api.get("/v1/me", headers=bearer(token)).status_code == 200:
        assert time.monotonic() < deadline, "the deletion was not carried out in time"
        time.sleep(0.2)


def make_due(stack: Stack, user_id: int) -> None:
    """The grace period passes."""
    sql(
        stack,
        "UPDATE identity.users SET deletion_scheduled_for = now() - interval '1 second'"
        " WHERE id = $1",
        user_id,
    )


def test_request_and_cancel_within_the_grace_period(api: httpx.Client) -> None:
    owner = register(api)
    agent = join(api, owner["token"])
    mine = bearer(agent["token"])
    assert api.get("/v1/account/deletion", headers=mine).json()["data"] == {
        "scheduled": False,
        "scope": "user",
        "requested_at": None,
        "scheduled_for": None,
    }
    wrong = api.post("/v1/account/deletion", headers=mine, json={"password": "not-it-at-all"})
    assert wrong.status_code == 422 and error_fields(wrong) == {"password"}

    requested = api.post("/v1/account/deletion", headers=mine, json={"password": PASSWORD})
    assert requested.status_code == 202
    state = requested.json()["data"]
    assert state["scheduled"] is True and state["scope"] == "user"
    due = datetime.fromisoformat(state["scheduled_for"])
    assert timedelta(days=13) < due - datetime.now(UTC) <= timedelta(days=14)
    again = api.post("/v1/account/deletion", headers=mine, json={"password": PASSWORD})
    assert again.status_code == 409 and errors_of(again)[0]["code"] == "DELETION_ALREADY_SCHEDULED"

    cancelled = api.delete("/v1/account/deletion", headers=mine)
    assert cancelled.status_code == 200 and cancelled.json()["data"]["scheduled"] is False
    assert api.delete("/v1/account/deletion", headers=mine).status_code == 409
    # Everything is intact.
    assert api.get("/v1/me", headers=mine).json()["data"]["user"] == agent["user"]
    members = api.get("/v1/team/members", headers=bearer(owner["token"])).json()["data"]
    assert agent["user"]["id"] in {m["id"] for m in members}


def test_an_agents_deletion_erases_their_account(api: httpx.Client, stack: Stack) -> None:
    owner = register(api)
    agent = join(api, owner["token"])
    assert (
        api.post(
            "/v1/account/deletion", headers=bearer(agent["token"]), json={"password": PASSWORD}
        ).status_code
        == 202
    )
    assert api.get("/v1/me", headers=bearer(agent["token"])).status_code == 200  # cached now
    make_due(stack, agent["user"]["id"])
    wait_until_gone(api, agent["token"])
    members = api.get("/v1/team/members", headers=bearer(owner["token"])).json()["data"]
    assert [m["id"] for m in members] == [owner["user"]["id"]]
    erased = sql(
        stack,
        "SELECT count(*) AS n FROM identity.outbox WHERE subject = 'identity.user.erased'"
        " AND tenant_id = $1",
        owner["tenant"]["id"],
    )
    assert erased[0]["n"] == 1


def test_the_owners_deletion_erases_the_workspace_everywhere(
    api: httpx.Client, stack: Stack
) -> None:
    owner = register(api)
    agent = join(api, owner["token"])
    tenant_id = owner["tenant"]["id"]
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not sql(
        stack, "SELECT 1 FROM backoffice.tenant_directory WHERE tenant_id = $1", tenant_id
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)

    requested = api.post(
        "/v1/account/deletion", headers=bearer(owner["token"]), json={"password": PASSWORD}
    )
    assert requested.json()["data"]["scope"] == "workspace"
    make_due(stack, owner["user"]["id"])
    wait_until_gone(api, owner["token"])
    assert api.get("/v1/me", headers=bearer(agent["token"])).status_code == 401
    assert sql(stack, "SELECT 1 FROM identity.tenants WHERE id = $1", tenant_id) == []
    assert sql(stack, "SELECT 1 FROM identity.tokens WHERE tenant_id = $1", tenant_id) == []
    deadline = time.monotonic() + PATIENCE_SECONDS
    while sql(stack, "SELECT 1 FROM backoffice.tenant_directory WHERE tenant_id = $1", tenant_id):
        assert time.monotonic() < deadline, "backoffice did not erase its copy"
        time.sleep(0.2)
