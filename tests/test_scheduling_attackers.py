"""Scheduling routes against hostile callers: an API token's abilities (read vs write) against a
panel session on appointments and catalogue writes, an Idempotency-Key replay of a booking, and
oversized or deeply nested bodies (413 / 422 in the envelope, never a 500)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.billing_support import subscribe, wait_until
from tests.conftest import bearer, error_fields, errors_of, sql
from tests.scheduling_support import (
    SchedulingWorld,
    create_service,
    owner_with_provider,
    world,
)

BOOK = "/v1/scheduling/appointments"


@pytest.fixture(scope="module")
def sw() -> SchedulingWorld:
    return world()


@pytest.fixture
def api(sw: SchedulingWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sw.url, timeout=30) as client:
        yield client


def appointments_of(sw: SchedulingWorld, tenant_id: int) -> int:
    [row] = sql(
        sw.stack,
        "SELECT count(*) AS n FROM scheduling.appointments WHERE tenant_id = $1",
        tenant_id,
    )
    return int(row["n"])


def mint(api: httpx.Client, owner: dict[str, Any], abilities: list[str]) -> str:
    """An API token of the owner (plan business: api_access), retried until the plan applies."""

    def created() -> httpx.Response | None:
        response = api.post(
            "/v1/api-tokens",
            headers=owner["headers"],
            json={"name": "-".join(abilities), "abilities": abilities},
        )
        return response if response.status_code == 201 else None

    return str(wait_until(created, f"an API token {abilities}").json()["data"]["token"])


@pytest.fixture(scope="module")
def business(sw: SchedulingWorld) -> dict[str, Any]:
    """A workspace on the business plan (subscribed through billing), its provider, a service
    and an API token of each kind."""
    with httpx.Client(base_url=sw.url, timeout=30) as api:
        owner = owner_with_provider(api)
        service = create_service(api, owner)
        subscribe(sw.stack, api, owner["token"], "business")
        return {
            **owner,
            "service": service,
            "read": bearer(mint(api, owner, ["read"])),
            "write": bearer(mint(api, owner, ["read", "write"])),
        }


def test_a_read_token_reads_and_a_write_token_writes(
    api: httpx.Client, sw: SchedulingWorld, business: dict[str, Any]
) -> None:
    tenant_id = business["tenant"]["id"]
    read, write, session = business["read"], business["write"], business["headers"]
    service_id = business["service"]["id"]
    booked = api.post(
        BOOK, headers=session, json={"service_id": service_id, "start": "2027-07-05T09:00:00"}
    )
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["data"]
    path = f"{BOOK}/{appointment['id']}"

    # reads: a read token sees what the session sees
    for url in (
        "/v1/scheduling/services",
        f"/v1/scheduling/services/{service_id}",
        "/v1/scheduling/providers",
        f"{BOOK}?from=2027-07-01&to=2027-07-31",
        path,
    ):
        by_token, by_session = api.get(url, headers=read), api.get(url, headers=session)
        assert by_token.status_code == by_session.status_code == 200, (url, by_token.text)
        assert by_token.json()["data"] == by_session.json()["data"], url

    # writes: the read token is refused, before anything is stored
    before = appointments_of(sw, tenant_id)
    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", BOOK, {"service_id": service_id, "start": "2027-07-05T11:00:00"}),
        ("PATCH", path, {"notes": "changed by a read token"}),
        ("POST", f"{path}/reschedule", {"start": "2027-07-05T13:00:00"}),
        ("POST", f"{path}/cancel", {"reason": "read token"}),
        ("POST", f"{path}/arrive", None),
        ("POST", "/v1/scheduling/services", {"name": "Sneaky", "duration_minutes": 30}),
        (
            "PUT",
            f"/v1/scheduling/services/{service_id}",
            {"name": "Renamed", "duration_minutes": 30},
        ),
        ("DELETE", f"/v1/scheduling/services/{service_id}", None),
        ("POST", "/v1/scheduling/resources", {"name": "Room", "capacity": 1}),
        ("POST", "/v1/scheduling/closures", {"date": "2027-07-06"}),
        (
            "PUT",
            f"/v1/scheduling/providers/{business['user_id']}/schedule",
            {"timezone": "UTC", "rules": []},
        ),
    ]
    for method, url, body in writes:
        refused = api.request(method, url, headers=read, json=body)
        assert refused.status_code == 403, (method, url, refused.text)
        assert errors_of(refused)[0]["code"] == "TOKEN_ABILITY_REQUIRED", (method, url)
    assert appointments_of(sw, tenant_id) == before
    unchanged = api.get(path, headers=session).json()["data"]
    assert unchanged == appointment
    assert (
        api.get(f"/v1/scheduling/services/{service_id}", headers=session).json()["data"]["name"]
        == business["service"]["name"]
    )

    # the write token acts as the owner who minted it
    created = api.post(
        BOOK, headers=write, json={"service_id": service_id, "start": "2027-07-05T11:00:00"}
    )
    assert created.status_code == 201, created.text
    patched = api.patch(
        f"{BOOK}/{created.json()['data']['id']}", headers=write, json={"notes": "x"}
    )
    assert patched.status_code == 200 and patched.json()["data"]["notes"] == "x"
    cancelled = api.post(
        f"{BOOK}/{created.json()['data']['id']}/cancel", headers=write, json={"reason": "api"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "cancelled"
    resource = api.post(
        "/v1/scheduling/resources", headers=write, json={"name": "Chair", "capacity": 2}
    )
    assert resource.status_code == 201, resource.text

    # linking a Google Calendar is a panel session's: a token holder could otherwise link the
    # member's calendar to a Google account of theirs and read every appointment there
    for token in (read, write):
        connect = api.get("/v1/scheduling/calendar/google/connect", headers=token)
        assert connect.status_code == 403, connect.text
        assert errors_of(connect)[0]["code"] == "PANEL_SESSION_REQUIRED"
    assert api.get("/v1/scheduling/calendar/google/connect", headers=session).status_code == 200
    assert api.get("/v1/scheduling/calendar/google", headers=read).status_code == 200

    # another workspace's ids stay hidden from a token too
    other = owner_with_provider(api)
    theirs = api.post(
        BOOK,
        headers=other["headers"],
        json={"service_id": create_service(api, other)["id"], "start": "2027-07-05T09:00:00"},
    ).json()["data"]
    assert api.get(f"{BOOK}/{theirs['id']}", headers=write).status_code == 404
    assert api.post(f"{BOOK}/{theirs['id']}/cancel", headers=write, json={}).status_code == 404
    assert (
        api.get(f"{BOOK}/{theirs['id']}", headers=other["headers"]).json()["data"]["status"]
        == "confirmed"
    )


def test_an_idempotency_key_replay_books_once(api: httpx.Client, sw: SchedulingWorld) -> None:
    owner = owner_with_provider(api)
    tenant_id = owner["tenant"]["id"]
    service = create_service(api, owner)
    body = {"service_id": service["id"], "start": "2027-07-06T09:00:00", "notes": "first"}
    headers = {**owner["headers"], "Idempotency-Key": str(uuid.uuid4())}
    first = api.post(BOOK, headers=headers, json=body)
    assert first.status_code == 201, first.text
    again = api.post(BOOK, headers=headers, json=body)
    assert again.status_code == 201 and again.content == first.content
    assert again.headers.get("Idempotent-Replayed") == "true"
    reused = api.post(BOOK, headers=headers, json={**body, "start": "2027-07-06T11:00:00"})
    assert reused.status_code == 422
    assert errors_of(reused)[0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # a burst of one retried request under one key: one booking, one answer
    burst_headers = {**owner["headers"], "Idempotency-Key": str(uuid.uuid4())}
    burst_body = {"service_id": service["id"], "start": "2027-07-06T13:00:00"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: api.post(BOOK, headers=burst_headers, json=burst_body), range(8))
        )
    done = [a for a in answers if a.status_code == 201]
    assert done and {a.content for a in done} == {done[0].content}
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
    for a in answers:
        if a.status_code == 409:  # still in flight: the key's answer, never a double booking
            assert errors_of(a)[0]["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert appointments_of(sw, tenant_id) == 2
    [row] = sql(
        sw.stack,
        "SELECT count(*) AS n FROM scheduling.outbox WHERE tenant_id = $1"
        " AND subject = 'scheduling.appointment.created'",
        tenant_id,
    )
    assert row["n"] == 2


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        # over the gateway's 1 MiB JSON bound: refused unread
        ('{"notes": "' + "x" * (1024 * 1024 + 10) + '"}', 413, None),
        (
            f'{{"service_id": 1, "start": "2027-07-07T09:00:00", "notes": {_nested(200)}}}',
            422,
            "body",
        ),
        (f'{{"service_id": 1, "start": {_nested(20)}}}', 422, "start"),
    ],
    ids=["oversized", "nested-deeper-than-the-bound", "nested-where-a-string-goes"],
)
def test_hostile_booking_bodies_are_enveloped(
    api: httpx.Client, sw: SchedulingWorld, body: str, status: int, field: str | None
) -> None:
    owner = owner_with_provider(api)
    before = appointments_of(sw, owner["tenant"]["id"])
    response = api.post(
        BOOK, headers={**owner["headers"], "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == status, response.text[:300]
    error = errors_of(response)[0]
    assert error["code"] == ("PAYLOAD_TOO_LARGE" if status == 413 else "VALIDATION_FAILED")
    if field:
        assert error["field"] == field
    assert appointments_of(sw, owner["tenant"]["id"]) == before


def test_large_but_allowed_bodies_are_checked_field_by_field(
    api: httpx.Client, sw: SchedulingWorld
) -> None:
    owner = owner_with_provider(api)
    service = create_service(api, owner)
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        (
            "POST",
            BOOK,
            {"service_id": service["id"], "start": "2027-07-07T09:00:00", "notes": "n" * 900_000},
            "notes",
        ),
        ("POST", BOOK, {"service_id": service["id"], "start": "2" * 5000}, "start"),
        (
            "POST",
            BOOK,
            {"service_id": service["id"], "start": "2027-07-07T09:00:00", "occurrences": 10_000},
            "occurrences",
        ),
        ("POST", BOOK, {"service_id": 2**70, "start": "2027-07-07T09:00:00"}, "service_id"),
        (
            "POST",
            "/v1/scheduling/services",
            {"name": "X", "duration_minutes": 30, "reminder_offsets": [[[[60]]]]},
            "reminder_offsets",
        ),
        (
            "POST",
            "/v1/scheduling/services",
            {"name": "X", "duration_minutes": 30, "reminder_offsets": list(range(1, 50_001))},
            "reminder_offsets",
        ),
        (
            "POST",
            "/v1/scheduling/services",
            {"name": "X", "duration_minutes": 30, "provider_ids": list(range(1, 20_001))},
            "provider_ids",
        ),
        (
            "PUT",
            f"/v1/scheduling/providers/{owner['user_id']}/schedule",
            {
                "timezone": "UTC",
                "rules": [
                    {"kind": "open", "weekday": 1, "start_time": "09:00", "end_time": "10:00"}
                ]
                * 5_000,
            },
            "rules",
        ),
    ]
    for method, url, body, field in cases:
        response = api.request(method, url, headers=owner["headers"], json=body)
        assert response.status_code == 422, (url, field, response.text[:300])
        assert errors_of(response)[0]["code"] == "VALIDATION_FAILED", (url, field)
        fields = {f for f in error_fields(response) if f}
        assert any(f == field or f.startswith(f"{field}.") for f in fields), (field, fields)
    assert appointments_of(sw, owner["tenant"]["id"]) == 0
