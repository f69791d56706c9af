"""Availability: the member's switch, heartbeats, "away" when they stop, the owner's view."""

from __future__ import annotations

import time

import httpx

from plixa.identity.v1 import events_pb2
from scripts.mesh import Stack
from tests.conftest import bearer, error_fields, register, sql
from tests.test_team import join
from tests.waiting import PATIENCE_SECONDS


def announced(stack: Stack, user_id: int) -> list[str]:
    rows = sql(
        stack,
        "SELECT payload FROM identity.outbox"
        " WHERE subject = 'identity.availability.changed' ORDER BY seq",
    )
    events = [events_pb2.AvailabilityChanged.FromString(bytes(r["payload"])) for r in rows]
    return [e.status for e in events if e.user_id == user_id]


def test_switch_heartbeat_and_team_view(api: httpx.Client, stack: Stack) -> None:
    owner = register(api)
    agent = join(api, owner["token"], name="Bia Agent")
    mine = bearer(agent["token"])

    beat = api.post("/v1/me/availability/heartbeat", headers=mine)
    assert beat.status_code == 200
    assert beat.json()["data"]["status"] == "available"
    assert beat.json()["data"]["last_seen_at"] is not None

    off = api.put("/v1/me/availability", headers=mine, json={"is_available": False})
    assert off.json()["data"]["is_available"] is False
    assert off.json()["data"]["status"] == "unavailable"
    missing = api.put("/v1/me/availability", headers=mine, json={})
    assert missing.status_code == 422 and error_fields(missing) == {"is_available"}

    team = api.get("/v1/team/availability", headers=bearer(owner["token"]))
    assert team.status_code == 200
    by_user = {m["user_id"]: m for m in team.json()["data"]}
    assert by_user[agent["user"]["id"]]["status"] == "unavailable"
    assert by_user[agent["user"]["id"]]["name"] == "Bia Agent"
    assert by_user[owner["user"]["id"]]["status"] == "away"  # never sent a heartbeat

    assert api.get("/v1/team/availability", headers=mine).status_code == 403  # owner's view
    assert announced(stack, agent["user"]["id"]) == ["available", "unavailable"]


def test_a_member_whose_heartbeats_stop_is_announced_away(api: httpx.Client, stack: Stack) -> None:
    owner = register(api)
    agent = join(api, owner["token"])
    mine = bearer(agent["token"])
    assert (
        api.put("/v1/me/availability", headers=mine, json={"is_available": True}).status_code == 200
    )
    # Two minutes of silence pass.
    sql(
        stack,
        "UPDATE identity.users SET last_heartbeat_at = now() - interval '2 minutes' WHERE id = $1",
        agent["user"]["id"],
    )
    deadline = time.monotonic() + PATIENCE_SECONDS
    while (
        announced(stack, agent["user"]["id"]) != ["available", "away"]
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert announced(stack, agent["user"]["id"]) == ["available", "away"]
    team = api.get("/v1/team/availability", headers=bearer(owner["token"])).json()["data"]
    assert {m["user_id"]: m["status"] for m in team}[agent["user"]["id"]] == "away"

    back = api.post("/v1/me/availability/heartbeat", headers=mine)
    assert back.json()["data"]["status"] == "available"
    assert announced(stack, agent["user"]["id"]) == ["available", "away", "available"]
