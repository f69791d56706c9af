"""Session lifetimes, end to end: a panel session is refused once idle too long (sliding) or too
old (absolute, even if used all along), and a staff session after its 12 h (here: seconds).

A second identity with lifetimes of seconds, and a gateway that asks it (with a token cache far
shorter than those), run beside the shared stack on the same database: a token refused there is
still accepted by the shared stack's identity, whose lifetimes are the defaults, so the refusal is
the timeout's and not a revocation's."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from scripts.mesh import Process, Stack, free_port, grpc_serving, wait_for
from tests.conftest import bearer, errors_of, register
from tests.test_staff import enrol, new_staff

IDLE = 4
LIFETIME = 10
STAFF_LIFETIME = 6


@pytest.fixture(scope="module")
def short(stack: Stack) -> Iterator[httpx.Client]:
    """A gateway in front of an identity whose sessions last seconds."""
    port = free_port()
    env = stack.env()
    env.update(
        PLIXA_IDENTITY_PORT=str(port),
        PLIXA_SESSION_IDLE_SECONDS=str(IDLE),
        PLIXA_SESSION_LIFETIME_SECONDS=str(LIFETIME),
        PLIXA_STAFF_SESSION_LIFETIME_SECONDS=str(STAFF_LIFETIME),
    )
    name = "identity-short-sessions"
    identity = Process(
        name, [sys.executable, "-m", "services.identity"], env, stack.workdir / f"{name}.log"
    )
    stack.processes[name] = identity
    identity.start()
    try:
        wait_for(lambda: identity.running and grpc_serving(f"127.0.0.1:{port}"), name)
        url = stack.start_gateway(
            "gateway-short-sessions",
            env={"PLIXA_IDENTITY_ADDR": f"127.0.0.1:{port}", "PLIXA_TOKEN_CACHE_SECONDS": "0.2"},
        )
        with httpx.Client(base_url=url, timeout=15) as client:
            yield client
    finally:
        stack.stop_process("gateway-short-sessions")
        stack.stop_process(name)


def refused_as_expired(response: httpx.Response) -> bool:
    return response.status_code == 401 and errors_of(response)[0]["code"] == "UNAUTHENTICATED"


def test_an_idle_session_is_refused(short: httpx.Client, api: httpx.Client) -> None:
    token = register(short)["token"]
    assert short.get("/v1/me", headers=bearer(token)).status_code == 200
    time.sleep(IDLE + 1)
    assert refused_as_expired(short.get("/v1/me", headers=bearer(token)))
    # Not revoked: only too idle for the short policy (the shared stack's is 30 days).
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200


def test_a_used_session_slides_until_its_absolute_lifetime(short: httpx.Client) -> None:
    token = register(short)["token"]
    started = time.monotonic()
    refused_after = None
    while time.monotonic() - started < LIFETIME + 8:
        answer = short.get("/v1/me", headers=bearer(token))
        if answer.status_code != 200:
            assert refused_as_expired(answer), answer.text
            refused_after = time.monotonic() - started
            break
        time.sleep(1)
    # Used every second, it outlived the idle timeout well, and was refused at its lifetime.
    assert refused_after is not None
    assert LIFETIME - 1 <= refused_after <= LIFETIME + 3, refused_after


def test_a_staff_session_is_refused_after_its_lifetime(short: httpx.Client, stack: Stack) -> None:
    enrolled = enrol(short, new_staff(stack))
    started = time.monotonic()
    refused_after = None
    while time.monotonic() - started < STAFF_LIFETIME + 8:
        answer = short.get("/v1/admin/me", headers=bearer(enrolled.token))
        if answer.status_code != 200:
            assert refused_as_expired(answer), answer.text
            refused_after = time.monotonic() - started
            break
        time.sleep(1)
    assert refused_after is not None
    assert STAFF_LIFETIME - 2 <= refused_after <= STAFF_LIFETIME + 3, refused_after
