"""A member's Google Calendar link end to end against the local Google fake: the OAuth state is
bound to the member who started, tokens are sealed at rest and never returned, free/busy blocks
slots, bookings are written to the calendar, and a refused refresh marks the link broken and
stops blocking."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import bearer, errors_of, sql
from tests.scheduling_support import SchedulingWorld, create_service, owner_with_provider, world
from tests.test_team import join
from tests.waiting import poll


@pytest.fixture(scope="module")
def sw() -> SchedulingWorld:
    return world()


@pytest.fixture
def api(sw: SchedulingWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sw.url, timeout=30) as client:
        yield client


def connect(
    api: httpx.Client, sw: SchedulingWorld, headers: dict[str, str], email: str
) -> dict[str, Any]:
    started = api.get("/v1/scheduling/calendar/google/connect", headers=headers)
    assert started.status_code == 200, started.text
    url = started.json()["data"]["url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{sw.google.url}/o/oauth2/v2/auth?")
    assert query["access_type"] == "offline" and query["redirect_uri"].endswith(
        "/v1/scheduling/calendar/google/callback"
    )
    code = sw.google.issue_code(email)
    back = api.get(
        "/v1/scheduling/calendar/google/callback", params={"code": code, "state": query["state"]}
    )
    assert back.status_code == 200, back.text
    return {"state": query["state"], "link": back.json()["data"]}


def slot_starts(api: httpx.Client, owner: dict[str, Any], service_id: int, day: str) -> list[str]:
    response = api.get(
        "/v1/scheduling/availability",
        headers=owner["headers"],
        params={"service_id": service_id, "from": day, "to": day},
    )
    assert response.status_code == 200, response.text
    return [s["local_start"][11:16] for s in response.json()["data"]]


def test_google_busy_blocks_slots_until_the_link_breaks(
    api: httpx.Client, sw: SchedulingWorld
) -> None:
    owner = owner_with_provider(api)
    service = create_service(api, owner)
    email = f"owner{owner['user_id']}@gmail.test"
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 10 * 86400))
    # 10:00-12:00 in São Paulo (UTC-3) is busy in Google
    sw.google.busy[email] = [(f"{day}T13:00:00Z", f"{day}T15:00:00Z")]
    assert (
        api.get("/v1/scheduling/calendar/google", headers=owner["headers"]).json()["data"]["status"]
        == "none"
    )

    result = connect(api, sw, owner["headers"], email)
    assert result["link"]["status"] == "connected"
    body = api.get("/v1/scheduling/calendar/google", headers=owner["headers"]).text
    [row] = sql(
        sw.stack,
        "SELECT refresh_token_sealed, access_token_sealed FROM scheduling.google_links"
        " WHERE user_id = $1",
        owner["user_id"],
    )
    refresh = next(t for t, e in sw.google.refresh_tokens.items() if e == email)
    assert refresh not in row["refresh_token_sealed"] and refresh not in body
    assert "ya29." not in (row["access_token_sealed"] or "") and "ya29." not in body

    starts = slot_starts(api, owner, service["id"], day)
    assert (
        "10:00" not in starts and "11:00" not in starts and "09:00" in starts and "12:00" in starts
    )
    providers = api.get("/v1/scheduling/providers", headers=owner["headers"]).json()["data"]
    assert providers[0]["google_status"] == "connected"

    # a state is spent once
    replay = api.get(
        "/v1/scheduling/calendar/google/callback",
        params={"code": sw.google.issue_code(email), "state": result["state"]},
    )
    assert replay.status_code == 400 and errors_of(replay)[0]["code"] == "OAUTH_STATE_INVALID"

    booked = api.post(
        "/v1/scheduling/appointments",
        headers=owner["headers"],
        json={"service_id": service["id"], "start": f"{day}T14:00:00"},
    )
    assert booked.status_code == 201, booked.text
    events = poll(lambda: sw.google.events.get(email))
    assert events and events[0]["extendedProperties"]["private"]["appointmentId"] == str(
        booked.json()["data"]["id"]
    )

    # Google revokes the grant: the next refresh fails and the link is broken, visibly
    sw.google.revoke(email)
    sql(
        sw.stack,
        "UPDATE scheduling.google_links SET access_expires_at = now() - interval '1 hour'"
        " WHERE user_id = $1",
        owner["user_id"],
    )
    link = poll(
        lambda: (lambda data: data if data["status"] == "broken" else None)(
            api.get("/v1/scheduling/calendar/google", headers=owner["headers"]).json()["data"]
        )
    )
    assert link and link["error"]  # the refused refresh (or access token) is named
    assert "10:00" in slot_starts(api, owner, service["id"], day)

    gone = api.post("/v1/scheduling/calendar/google/disconnect", headers=owner["headers"])
    assert gone.status_code == 200 and gone.json()["data"]["status"] == "none"


def test_links_are_per_member_and_states_bound_to_them(
    api: httpx.Client, sw: SchedulingWorld
) -> None:
    owner = owner_with_provider(api)
    agent = join(api, owner["token"])
    agent_headers = bearer(agent["token"])
    connect(api, sw, agent_headers, "agent@gmail.test")
    assert (
        api.get("/v1/scheduling/calendar/google", headers=agent_headers).json()["data"]["status"]
        == "connected"
    )
    # the owner sees only their own (none); disconnecting touches only their own
    assert (
        api.get("/v1/scheduling/calendar/google", headers=owner["headers"]).json()["data"]["status"]
        == "none"
    )
    api.post("/v1/scheduling/calendar/google/disconnect", headers=owner["headers"])
    assert (
        api.get("/v1/scheduling/calendar/google", headers=agent_headers).json()["data"]["status"]
        == "connected"
    )
    bogus = api.get(
        "/v1/scheduling/calendar/google/callback", params={"code": "x", "state": "forged"}
    )
    assert bogus.status_code == 400 and errors_of(bogus)[0]["code"] == "OAUTH_STATE_INVALID"
    assert api.get("/v1/scheduling/calendar/google/connect").status_code == 401
