"""Sign-in under flood: password hashing stays bounded in memory (503 with Retry-After past a
short wait), and the sign-in throttle claims each attempt atomically before hashing, strictly per
(email, client address) and loosely per email, so a guesser elsewhere cannot lock the owner out.
Client addresses reach identity as a trusted proxy names them (X-Forwarded-For from 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scripts.mesh import Process, Stack, free_port, grpc_serving, wait_for
from tests.conftest import PASSWORD, errors_of, register, registration, sql, unique_email
from tests.waiting import PATIENCE_SECONDS

WRONG = "wrong-password"


def from_address(address: str, request_id: str = "") -> dict[str, str]:
    headers = {"X-Forwarded-For": address}
    if request_id:
        headers["X-Request-Id"] = request_id
    return headers


def burst(url: str, requests: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[Any]:
    """Sends every (path, body, headers) at once; the responses in order."""

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await asyncio.gather(
                *(client.post(path, json=body, headers=headers) for path, body, headers in requests)
            )

    return asyncio.run(send())


def assert_enveloped(response: httpx.Response) -> None:
    body = response.json()
    if response.status_code < 400:
        assert "data" in body, response.text
    else:
        assert errors_of(response)[0]["code"], response.text


def password_checks(stack: Stack, request_id_prefix: str, process: str = "identity") -> int:
    """How many password hashes identity evaluated for requests whose id has this prefix."""
    count = 0
    for line in stack.processes[process].log_path.read_text(errors="replace").splitlines():
        if '"password_checked"' not in line:
            continue
        entry = json.loads(line)
        if str(entry.get("request_id", "")).startswith(request_id_prefix):
            count += 1
    return count


# ── memory: hashing at production cost ────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def costly_identity(stack: Stack) -> Iterator[tuple[str, Process]]:
    """A second identity replica hashing at production cost (2^17: 128 MiB a hash), with its
    default bound, and a gateway that sends identity's routes to it."""
    port = free_port()
    env = stack.env()
    env.update(
        PLIXA_SCRYPT_LOG_N="17",
        PLIXA_IDENTITY_PORT=str(port),
        PLIXA_IDENTITY_ADDR=f"127.0.0.1:{port}",
    )
    env.pop("PLIXA_SCRYPT_CONCURRENCY", None)
    process = Process(
        "identity-costly",
        [sys.executable, "-m", "services.identity"],
        env,
        stack.workdir / "identity-costly.log",
    )
    stack.processes[process.name] = process
    process.start()
    wait_for(lambda: process.running and grpc_serving(f"127.0.0.1:{port}"), process.name)
    url = stack.start_gateway(
        "gateway-costly-identity", env={"PLIXA_IDENTITY_ADDR": f"127.0.0.1:{port}"}
    )
    yield url, process
    stack.stop_process("gateway-costly-identity")
    stack.stop_process(process.name)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_thirty_parallel_sign_ins_at_production_cost_keep_identity_small(
    costly_identity: tuple[str, Process],
) -> None:
    url, process = costly_identity
    assert process.popen is not None
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    for i in range(30):
        address = f"10.30.{i}.1"  # every request from its own address: each one costs a hash
        if i % 2:
            body = {"email": unique_email("nobody"), "password": WRONG}
            requests.append(("/v1/auth/login", body, from_address(address)))
        else:
            requests.append(("/v1/auth/register", registration(), from_address(address)))
    started = time.monotonic()
    responses = burst(url, requests)
    elapsed = time.monotonic() - started
    statuses = [r.status_code for r in responses]
    for response in responses:
        assert_enveloped(response)
    assert set(statuses) <= {201, 401, 503}, f"{statuses}\n{process.log_tail(60)}"
    busy = [r for r in responses if r.status_code == 503]
    # 30 hashes of ~0.35 s on two slots take over 5 s; a request waits at most 2 s for a slot.
    assert busy, statuses
    for response in busy:
        assert errors_of(response)[0]["code"] == "SERVICE_UNAVAILABLE"
        assert int(response.headers["Retry-After"]) >= 1
    assert any(s in (201, 401) for s in statuses), statuses
    assert process.running
    peak = peak_rss_mb(process.popen.pid)
    print(f"identity peak RSS {peak:.0f} MB, {statuses.count(503)} × 503, {elapsed:.1f} s")
    assert peak < 600, f"identity peaked at {peak:.0f} MB"


# ── the throttle ─────────────────────────────────────────────────────────────────────────


def login(
    api: httpx.Client, email: str, password: str, address: str, request_id: str = ""
) -> httpx.Response:
    return api.post(
        "/v1/auth/login",
        json={"email": email, "password": password},
        headers=from_address(address, request_id),
    )


def test_a_parallel_burst_gets_five_guesses_and_the_owner_still_signs_in_elsewhere(
    api: httpx.Client, stack: Stack, gateway_url: str
) -> None:
    email = unique_email()
    register(api, email=email)
    prefix = f"burst-{uuid.uuid4().hex[:8]}"
    attacker = "203.0.113.7"
    responses = burst(
        gateway_url,
        [
            (
                "/v1/auth/login",
                {"email": email, "password": WRONG},
                from_address(attacker, f"{prefix}-{i}"),
            )
            for i in range(20)
        ],
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 5 + [429] * 15, statuses
    for response in responses:
        assert_enveloped(response)
        if response.status_code == 429:
            assert errors_of(response)[0]["code"] == "RATE_LIMITED"
            assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    wait_for(lambda: password_checks(stack, prefix) >= 5, "password_checked log lines", 10)
    time.sleep(0.3)  # any late line would show now
    assert password_checks(stack, prefix) == 5

    # The attacker's address stays refused, even with the right password…
    assert login(api, email, PASSWORD, attacker).status_code == 429
    # …while the owner, from another address, signs in as usual.
    owner = login(api, email, PASSWORD, "198.51.100.20")
    assert owner.status_code == 200, owner.text
    assert owner.json()["data"]["token"]


def test_a_guesser_spread_over_many_addresses_meets_a_growing_delay(api: httpx.Client) -> None:
    email = unique_email()
    register(api, email=email)
    home = "198.51.100.77"
    assert login(api, email, PASSWORD, home).status_code == 200  # the owner's known address

    for i in range(9):  # the rest of the email's allowance of 10, one guess from each address
        assert login(api, email, WRONG, f"192.0.2.{i + 1}").status_code == 401
    waits = []
    for i in range(3):
        refused = login(api, email, WRONG, f"192.0.2.{100 + i}")
        assert refused.status_code == 429, refused.text
        assert errors_of(refused)[0]["code"] == "RATE_LIMITED"
        waits.append(int(refused.headers["Retry-After"]))
        time.sleep(waits[-1] + 0.3)
        assert login(api, email, WRONG, f"192.0.2.{150 + i}").status_code == 401
    assert waits[0] < waits[1] < waits[2], waits

    # A new address of the owner waits like everyone else, but a known one signs in at once.
    assert login(api, email, PASSWORD, "198.51.100.78").status_code == 429
    assert login(api, email, PASSWORD, home).status_code == 200


def test_staff_sign_in_is_throttled_per_address(api: httpx.Client) -> None:
    email = unique_email("staff")
    for _ in range(5):
        wrong = api.post(
            "/v1/admin/auth/login",
            json={"email": email, "password": WRONG},
            headers=from_address("203.0.113.50"),
        )
        assert wrong.status_code == 401
    refused = api.post(
        "/v1/admin/auth/login",
        json={"email": email, "password": WRONG},
        headers=from_address("203.0.113.50"),
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    elsewhere = api.post(
        "/v1/admin/auth/login",
        json={"email": email, "password": WRONG},
        headers=from_address("203.0.113.51"),
    )
    assert elsewhere.status_code == 401


def test_expired_sign_in_counters_are_pruned_and_live_ones_kept(stack: Stack) -> None:
    """A scheduled job drops counters no window reads any more; those still deciding stay."""
    tag = uuid.uuid4().hex[:8]
    stale, live, known = f"stale-{tag}@x.co", f"live-{tag}@x.co", f"known-{tag}@x.co"
    sql(
        stack,
        """INSERT INTO identity.sign_in_attempts_by_address
               (kind, email, address, attempts, window_started_at, succeeded_at)
           VALUES ('user', $1, '10.0.0.1', 5, now() - interval '1 hour', NULL),
                  ('user', $2, '10.0.0.1', 5, now(), NULL),
                  ('user', $3, '10.0.0.1', 0, now() - interval '1 hour',
                   now() - interval '1 day')""",
        stale,
        live,
        known,
    )
    sql(
        stack,
        """INSERT INTO identity.sign_in_attempts_by_email
               (kind, email, attempts, last_attempt_at, next_allowed_at)
           VALUES ('user', $1, 12, now() - interval '2 hours', now() - interval '2 hours'),
                  ('user', $2, 12, now(), now() + interval '1 minute')""",
        stale,
        live,
    )
    query = """SELECT email FROM identity.sign_in_attempts_by_address WHERE email = ANY($1)
               UNION ALL
               SELECT email FROM identity.sign_in_attempts_by_email WHERE email = ANY($1)"""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while stale in {r["email"] for r in sql(stack, query, [stale, live, known])}:
        assert time.monotonic() < deadline, "expired counters were never pruned"
        time.sleep(0.2)
    assert sorted(r["email"] for r in sql(stack, query, [stale, live, known])) == sorted(
        [live, live, known]
    )
