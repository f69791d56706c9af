"""Scheduling's catalogue through the gateway: services, resources, schedules, the default
schedule, closures, holiday and reminder config, calendar filters; roles and tenants."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import bearer, error_fields, errors_of, register, sql
from tests.scheduling_support import (
    WEEK,
    SchedulingWorld,
    create_service,
    owner_with_provider,
    world,
)
from tests.test_team import join
from tests.waiting import PATIENCE_SECONDS


@pytest.fixture(scope="module")
def sw() -> SchedulingWorld:
    return world()


@pytest.fixture
def api(sw: SchedulingWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sw.url, timeout=20) as client:
        yield client


def test_service_crud_and_roles(api: httpx.Client) -> None:
    owner = owner_with_provider(api)
    service = create_service(
        api,
        owner,
        buffer_before_minutes=10,
        buffer_after_minutes=5,
        price_cents=5000,
        reminder_offsets=[60, 1440],
    )
    assert service["duration_minutes"] == 60
    assert service["provider_ids"] == [owner["user_id"]]
    assert service["reminder_offsets"] == [1440, 60]
    assert service["currency"] == "BRL"

    listed = api.get("/v1/scheduling/services", headers=owner["headers"]).json()
    assert [s["id"] for s in listed["data"]] == [service["id"]]
    assert listed["meta"]["has_more"] is False

    replaced = api.put(
        f"/v1/scheduling/services/{service['id']}",
        headers=owner["headers"],
        json={"name": "Long cut", "duration_minutes": 90, "reminder_offsets": None},
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()["data"]
    assert (body["name"], body["duration_minutes"], body["reminder_offsets"]) == (
        "Long cut",
        90,
        None,
    )
    assert body["provider_ids"] == []  # a full replace

    agent = join(api, owner["token"])
    agent_headers = bearer(agent["token"])
    assert (
        api.get(f"/v1/scheduling/services/{service['id']}", headers=agent_headers).status_code
        == 200
    )
    refused = api.post(
        "/v1/scheduling/services", headers=agent_headers, json={"name": "X", "duration_minutes": 30}
    )
    assert refused.status_code == 403
    assert errors_of(refused)[0]["code"] == "FORBIDDEN"

    other = register(api)
    for method, path in [
        ("GET", f"/v1/scheduling/services/{service['id']}"),
        ("PUT", f"/v1/scheduling/services/{service['id']}"),
        ("DELETE", f"/v1/scheduling/services/{service['id']}"),
    ]:
        json = {"name": "Stolen", "duration_minutes": 30} if method == "PUT" else None
        response = api.request(method, path, headers=bearer(other["token"]), json=json)
        assert response.status_code == 404, (method, response.text)

    deleted = api.delete(f"/v1/scheduling/services/{service['id']}", headers=owner["headers"])
    assert deleted.status_code == 204
    assert (
        api.get(f"/v1/scheduling/services/{service['id']}", headers=owner["headers"]).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "duration_minutes": -30}, "duration_minutes"),
        ({"name": "X"}, "duration_minutes"),
        ({"name": "", "duration_minutes": 30}, "name"),
        ({"name": "X", "duration_minutes": 30, "currency": "XXX"}, "currency"),
        ({"name": "X", "duration_minutes": 30, "provider_ids": [999999999]}, "provider_ids"),
        ({"name": "X", "duration_minutes": 30, "resource_ids": [999999999]}, "resource_ids"),
        ({"name": "X", "duration_minutes": 30, "reminder_offsets": [0]}, "reminder_offsets.0"),
        # below billing's smallest checkout: refused when set, not when a link is asked for
        ({"name": "X", "duration_minutes": 30, "deposit_cents": 50}, "deposit_cents"),
        ({"name": "X", "duration_minutes": 30, "deposit_cents": 100_000_001}, "deposit_cents"),
    ],
)
def test_service_input_is_validated(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    owner = register(api)
    response = api.post("/v1/scheduling/services", headers=bearer(owner["token"]), json=body)
    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert errors_of(response)[0]["code"] == "VALIDATION_FAILED"


def test_deposit_needs_the_plan(api: httpx.Client) -> None:
    owner = owner_with_provider(api)
    response = api.post(
        "/v1/scheduling/services",
        headers=owner["headers"],
        json={"name": "Color", "duration_minutes": 60, "deposit_cents": 1000},
    )
    assert response.status_code == 403
    assert errors_of(response)[0]["code"] == "PLAN_FEATURE_REQUIRED"


def test_resources_crud_and_capacity(api: httpx.Client) -> None:
    owner = owner_with_provider(api)
    created = api.post(
        "/v1/scheduling/resources", headers=owner["headers"], json={"name": "Chair", "capacity": 2}
    )
    assert created.status_code == 201, created.text
    resource = created.json()["data"]
    assert resource["capacity"] == 2
    service = create_service(api, owner, resource_ids=[resource["id"]])
    assert service["resource_ids"] == [resource["id"]]
    bad = api.put(
        f"/v1/scheduling/resources/{resource['id']}",
        headers=owner["headers"],
        json={"name": "C", "capacity": 0},
    )
    assert bad.status_code == 422 and "capacity" in error_fields(bad)
    other = register(api)
    stolen = api.put(
        f"/v1/scheduling/resources/{resource['id']}",
        headers=bearer(other["token"]),
        json={"name": "Mine"},
    )
    assert stolen.status_code == 404
    assert (
        api.delete(
            f"/v1/scheduling/resources/{resource['id']}", headers=owner["headers"]
        ).status_code
        == 204
    )
    after = api.get(f"/v1/scheduling/services/{service['id']}", headers=owner["headers"]).json()[
        "data"
    ]
    assert after["resource_ids"] == []


def test_provider_schedule_is_a_full_replace(api: httpx.Client) -> None:
    owner = owner_with_provider(api, "Europe/Lisbon")
    path = f"/v1/scheduling/providers/{owner['user_id']}/schedule"
    got = api.get(path, headers=owner["headers"]).json()["data"]
    assert got["timezone"] == "Europe/Lisbon" and len(got["rules"]) == 7
    rules = [
        {"kind": "open", "weekday": 1, "start_time": "10:00", "end_time": "12:00"},
        {"kind": "blocked", "date": "2027-03-15"},
        {"kind": "open", "date": "2027-03-20", "start_time": "08:00", "end_time": "09:30"},
    ]
    put = api.put(
        path, headers=owner["headers"], json={"timezone": "America/New_York", "rules": rules}
    )
    assert put.status_code == 200, put.text
    body = put.json()["data"]
    assert body["timezone"] == "America/New_York"
    assert [(r["kind"], r["weekday"], r["date"], r["start_time"]) for r in body["rules"]] == [
        ("open", 1, None, "10:00"),
        ("blocked", None, "2027-03-15", ""),
        ("open", None, "2027-03-20", "08:00"),
    ]
    providers = api.get("/v1/scheduling/providers", headers=owner["headers"]).json()["data"]
    assert [(p["id"], p["schedule"]["timezone"], p["google_status"]) for p in providers] == [
        (owner["user_id"], "America/New_York", "none")
    ]

    for body, field in [
        ({"timezone": "Mars/Olympus", "rules": []}, "timezone"),
        (
            {
                "timezone": "UTC",
                "rules": [
                    {"kind": "open", "weekday": 1, "start_time": "12:00", "end_time": "11:00"}
                ],
            },
            "rules.0.end_time",
        ),
        (
            {
                "timezone": "UTC",
                "rules": [{"kind": "open", "start_time": "09:00", "end_time": "11:00"}],
            },
            "rules.0",
        ),
        ({"timezone": "UTC", "rules": [{"kind": "maybe", "weekday": 1}]}, "rules.0.kind"),
    ]:
        bad = api.put(path, headers=owner["headers"], json=body)
        assert bad.status_code == 422, bad.text
        # the gateway names a nested field by its own name ("kind"), the service by its path
        fields = error_fields(bad)
        assert field in fields or field.rsplit(".", 1)[-1] in fields, bad.text

    agent = join(api, owner["token"])
    agent_path = f"/v1/scheduling/providers/{agent['user']['id']}/schedule"
    assert (
        api.put(
            agent_path, headers=bearer(agent["token"]), json={"timezone": "UTC", "rules": WEEK}
        ).status_code
        == 403
    )
    assert api.get(agent_path, headers=bearer(agent["token"])).json()["data"]["rules"] == []
    other = register(api)
    assert (
        api.put(
            agent_path, headers=bearer(other["token"]), json={"timezone": "UTC", "rules": []}
        ).status_code
        == 404
    )
    assert api.get(path, headers=bearer(other["token"])).status_code == 404


def test_default_schedule_holds_weekly_open_windows_only(api: httpx.Client) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    assert api.get("/v1/scheduling/default-schedule", headers=headers).json()["data"]["rules"] == []
    ok = api.put(
        "/v1/scheduling/default-schedule",
        headers=headers,
        json={"timezone": "Asia/Yekaterinburg", "rules": WEEK[:2]},
    )
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["data"]["rules"]) == 2
    bad = api.put(
        "/v1/scheduling/default-schedule",
        headers=headers,
        json={
            "timezone": "UTC",
            "rules": [
                {"kind": "open", "date": "2027-01-01", "start_time": "09:00", "end_time": "10:00"}
            ],
        },
    )
    assert bad.status_code == 422 and "rules.0" in error_fields(bad)


def test_closures_are_idempotent_per_date(api: httpx.Client, sw: SchedulingWorld) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    first = api.post(
        "/v1/scheduling/closures", headers=headers, json={"date": "2027-05-01", "reason": "Party"}
    )
    assert first.status_code == 201, first.text
    again = api.post(
        "/v1/scheduling/closures", headers=headers, json={"date": "2027-05-01", "reason": "Other"}
    )
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.json()["data"]["reason"] == "Party"
    assert (
        api.post(
            "/v1/scheduling/closures", headers=headers, json={"date": "2027-02-30"}
        ).status_code
        == 422
    )
    listed = api.get("/v1/scheduling/closures", headers=headers).json()["data"]
    assert [(c["date"], c["source"]) for c in listed] == [("2027-05-01", "manual")]
    other = register(api)
    closure_id = first.json()["data"]["id"]
    assert (
        api.delete(
            f"/v1/scheduling/closures/{closure_id}", headers=bearer(other["token"])
        ).status_code
        == 404
    )
    assert api.delete(f"/v1/scheduling/closures/{closure_id}", headers=headers).status_code == 204


def test_holidays_import_retry_and_toggle_off(api: httpx.Client, sw: SchedulingWorld) -> None:
    import time

    owner = register(api)
    headers = bearer(owner["token"])
    manual = api.post("/v1/scheduling/closures", headers=headers, json={"date": "2027-12-25"})
    assert manual.status_code == 201
    sw.holidays.failing = True
    try:
        saved = api.put(
            "/v1/scheduling/holiday-config",
            headers=headers,
            json={"block_holidays": True, "country_code": "PT"},
        )
        assert saved.status_code == 200, saved.text
        assert (saved.json()["data"]["block_holidays"], saved.json()["data"]["synced"]) == (
            True,
            False,
        )
    finally:
        sw.holidays.failing = False
    # The retry job (attempt 1 waits ~60 s): bring its next attempt forward.
    sql(
        sw.stack,
        "UPDATE scheduling.holiday_configs SET next_attempt_at = now() WHERE tenant_id = $1",
        owner["tenant"]["id"],
    )
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        config = api.get("/v1/scheduling/holiday-config", headers=headers).json()["data"]
        if config["synced"]:
            break
        time.sleep(0.2)
    assert config["synced"] is True, config
    closures = api.get("/v1/scheduling/closures", headers=headers, params={"limit": 100}).json()[
        "data"
    ]
    sources = {(c["date"], c["source"]) for c in closures}
    assert ("2027-12-25", "manual") in sources and ("2027-12-25", "holiday") in sources
    assert ("2027-01-01", "holiday") in sources
    # re-saving imports again without duplicates
    again = api.put("/v1/scheduling/holiday-config", headers=headers, json={"block_holidays": True})
    assert again.json()["data"]["synced"] is True
    assert len(
        api.get("/v1/scheduling/closures", headers=headers, params={"limit": 100}).json()["data"]
    ) == len(closures)
    off = api.put("/v1/scheduling/holiday-config", headers=headers, json={"block_holidays": False})
    assert off.json()["data"]["block_holidays"] is False
    left = api.get("/v1/scheduling/closures", headers=headers, params={"limit": 100}).json()["data"]
    assert [(c["date"], c["source"]) for c in left] == [("2027-12-25", "manual")]
    assert (
        api.put(
            "/v1/scheduling/holiday-config",
            headers=bearer(join(api, owner["token"])["token"]),
            json={"block_holidays": True},
        ).status_code
        == 403
    )


def test_reminder_config_null_default_and_off(api: httpx.Client) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    initial = api.get("/v1/scheduling/reminder-config", headers=headers).json()["data"]
    assert initial["offsets"] is None and initial["effective_offsets"] == [1440, 120]
    off = api.put("/v1/scheduling/reminder-config", headers=headers, json={"offsets": []}).json()[
        "data"
    ]
    assert off["offsets"] == [] and off["effective_offsets"] == []
    some = api.put(
        "/v1/scheduling/reminder-config", headers=headers, json={"offsets": [30, 30, 90]}
    ).json()["data"]
    assert some["offsets"] == [90, 30]
    back = api.put(
        "/v1/scheduling/reminder-config", headers=headers, json={"offsets": None}
    ).json()["data"]
    assert back["offsets"] is None and back["effective_offsets"] == [1440, 120]
    bad = api.put("/v1/scheduling/reminder-config", headers=headers, json={"offsets": [-5]})
    assert bad.status_code == 422 and "offsets.0" in error_fields(bad)


def test_a_member_saves_at_most_fifty_calendar_filters(api: httpx.Client) -> None:
    """They are listed whole, so their number is bounded; a parallel burst cannot pass it."""
    owner = register(api)
    headers = bearer(owner["token"])

    def save(name: str) -> httpx.Response:
        return api.post("/v1/scheduling/calendar-filters", headers=headers, json={"name": name})

    for i in range(45):
        assert save(f"f{i}").status_code == 201
    with ThreadPoolExecutor(10) as pool:
        burst = list(pool.map(save, [f"burst{i}" for i in range(10)]))
    assert sorted(r.status_code for r in burst) == [201] * 5 + [409] * 5
    refused = next(r for r in burst if r.status_code == 409)
    assert errors_of(refused)[0]["code"] == "CALENDAR_FILTER_LIMIT_REACHED"
    listed = api.get("/v1/scheduling/calendar-filters", headers=headers).json()["data"]
    assert len(listed) == 50
    assert api.delete(
        f"/v1/scheduling/calendar-filters/{listed[0]['id']}", headers=headers
    ).status_code in (200, 204)
    assert save("after a delete").status_code == 201
    other = register(api)  # another member's budget is their own
    assert (
        api.post(
            "/v1/scheduling/calendar-filters", headers=bearer(other["token"]), json={"name": "x"}
        ).status_code
        == 201
    )


def test_calendar_filters_are_per_user_with_one_default(api: httpx.Client) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    agent = join(api, owner["token"])
    agent_headers = bearer(agent["token"])
    a = api.post(
        "/v1/scheduling/calendar-filters",
        headers=headers,
        json={"name": "Mine", "is_default": True, "statuses": ["confirmed"]},
    )
    assert a.status_code == 201, a.text
    b = api.post(
        "/v1/scheduling/calendar-filters",
        headers=headers,
        json={"name": "Other", "is_default": True},
    )
    mine = api.get("/v1/scheduling/calendar-filters", headers=headers).json()["data"]
    assert [(f["name"], f["is_default"]) for f in mine] == [("Mine", False), ("Other", True)]
    assert api.get("/v1/scheduling/calendar-filters", headers=agent_headers).json()["data"] == []
    fid = a.json()["data"]["id"]
    assert (
        api.put(
            f"/v1/scheduling/calendar-filters/{fid}", headers=agent_headers, json={"name": "x"}
        ).status_code
        == 404
    )
    assert (
        api.delete(f"/v1/scheduling/calendar-filters/{fid}", headers=agent_headers).status_code
        == 404
    )
    bad = api.post(
        "/v1/scheduling/calendar-filters", headers=headers, json={"name": "x", "statuses": ["lost"]}
    )
    assert bad.status_code == 422
    assert (
        api.delete(
            f"/v1/scheduling/calendar-filters/{b.json()['data']['id']}", headers=headers
        ).status_code
        == 204
    )
