"""A step owner that is away is not the same as one that has no such RPC yet: the checklist is
never made up from a failure."""

from __future__ import annotations

import time

import httpx

from scripts.mesh import Stack
from tests.conftest import bearer, errors_of, register
from tests.waiting import PATIENCE_SECONDS


def test_an_unreachable_step_owner_answers_503_not_not_done(
    api: httpx.Client, stack: Stack
) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    # Inbox runs but has no GetOnboardingProgress yet (UNIMPLEMENTED): its step is "not done".
    assert api.get("/v1/onboarding", headers=headers).status_code == 200

    stack.stop_process("inbox")
    try:
        away = api.get("/v1/onboarding", headers=headers)
        assert away.status_code == 503, away.text
        assert errors_of(away)[0]["code"] == "SERVICE_UNAVAILABLE"
        assert away.headers["Retry-After"] == "5"
        # Routes that do not need inbox keep working.
        assert api.get("/v1/me", headers=headers).status_code == 200
    finally:
        stack.start_service("inbox")

    # The channel reconnects within its 2 s backoff cap.
    deadline = time.monotonic() + PATIENCE_SECONDS
    while (back := api.get("/v1/onboarding", headers=headers)).status_code != 200:
        assert time.monotonic() < deadline, back.text
        time.sleep(0.2)
    assert {s["key"]: s["done"] for s in back.json()["data"]["steps"]}["phone_connected"] is False
