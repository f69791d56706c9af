"""The scheduling end-to-end tests' own small Plixa (identity, inbox, billing, scheduling and a
gateway) with the Google and holiday fakes wired in through their env vars (billing's Stripe fake
is the Stack's own), started once per session and shared by every tests/test_scheduling_*.py
module."""

from __future__ import annotations

import atexit
import os
import shutil
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from scripts.mesh import Stack
from tests.conftest import ADMIN_URL, TEST_ENV, bearer, register
from tests.fakes.google import GoogleFake
from tests.fakes.holidays import HolidaysFake

SERVICES = ("identity", "inbox", "billing", "scheduling")


@dataclass
class SchedulingWorld:
    stack: Stack
    url: str
    google: GoogleFake
    holidays: HolidaysFake


_lock = threading.Lock()
_world: SchedulingWorld | None = None


def world() -> SchedulingWorld:
    global _world
    with _lock:
        if _world is None:
            google = GoogleFake().start()
            holidays = HolidaysFake().start()
            env = {
                **TEST_ENV,
                "PLIXA_GOOGLE_CLIENT_ID": "plixa-test-client",
                "PLIXA_GOOGLE_CLIENT_SECRET": "plixa-test-secret",
                "PLIXA_GOOGLE_AUTH_URL": f"{google.url}/o/oauth2/v2/auth",
                "PLIXA_GOOGLE_TOKEN_URL": f"{google.url}/token",
                "PLIXA_GOOGLE_API_URL": google.url,
                "PLIXA_HOLIDAYS_URL": holidays.url,
                "PLIXA_SCHEDULING_JOBS_SECONDS": "0.3",
                "PLIXA_RATE_LIMITS": "default=100000/60,auth=10000/60,auth_failure=10000/60",
            }
            stack = Stack.for_tests(ADMIN_URL, services=SERVICES, extra_env=env)
            try:
                stack.start()
                url = stack.start_gateway()
            except BaseException:
                stack.stop()
                raise
            _world = SchedulingWorld(stack, url, google, holidays)

            atexit.register(stop_world)
        return _world


def stop_world() -> None:
    """Stops the shared stack once the scheduling modules are done (tests/conftest.py), so
    its connections are free for the stacks that follow; a later use starts another."""
    global _world
    with _lock:
        if _world is None:
            return
        world, _world = _world, None
    keep = os.environ.get("PLIXA_TEST_KEEP_LOGS")
    if keep:  # a debugging aid: the stack's logs outlive it
        shutil.copytree(world.stack.workdir, keep, dirs_exist_ok=True)
    world.stack.stop()
    world.google.stop()
    world.holidays.stop()


WEEK = [
    {"kind": "open", "weekday": d, "start_time": "09:00", "end_time": "17:00"} for d in range(7)
]


def owner_with_provider(
    api: httpx.Client,
    timezone: str = "America/Sao_Paulo",
    rules: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A new workspace whose owner is a provider with a schedule; returns the session plus
    `headers` and `user_id`."""
    session = register(api)
    headers = bearer(session["token"])
    user_id = session["user"]["id"]
    response = api.put(
        f"/v1/scheduling/providers/{user_id}/schedule",
        headers=headers,
        json={"timezone": timezone, "rules": WEEK if rules is None else rules},
    )
    assert response.status_code == 200, response.text
    return {**session, "headers": headers, "user_id": user_id}


def create_service(api: httpx.Client, owner: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {"name": "Haircut", "duration_minutes": 60, "provider_ids": [owner["user_id"]]}
    body.update(overrides)
    response = api.post("/v1/scheduling/services", headers=owner["headers"], json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def new_contact(api: httpx.Client, owner: dict[str, Any], name: str = "Bia") -> int:
    """A contact of the owner's workspace in inbox (appointments' contact ids are checked)."""
    import uuid

    phone = "5521" + str(uuid.uuid4().int)[:9]
    response = api.post(
        "/v1/contacts",
        headers=owner["headers"],
        json={"contact_phone": phone, "contact_name": name},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["data"]["id"])
