"""A supervised stack (what `make run` starts) outlives a process killed with SIGKILL: the process
is restarted with backoff and serves again within seconds, the gateway answers its routes with an
enveloped 503 meanwhile, and everything else keeps serving."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.mesh import Backoff, Process, Stack, grpc_serving
from tests.conftest import ADMIN_URL, TEST_ENV, bearer, register

BACK_WITHIN_SECONDS = 5.0


def back_within(stack: Stack, name: str) -> float:
    """5 s, as promised; on a host so loaded that the first cold start alone took longer, that
    start twice over (a restart is one more cold start, plus backoff and reconnect)."""
    return max(BACK_WITHIN_SECONDS, 2 * stack.processes[name].ready_after + 2.0)


@dataclass
class Supervised:
    stack: Stack
    gateway: str


@pytest.fixture(scope="module")
def supervised() -> Iterator[Supervised]:
    """Its own small deployment, so killing its processes disturbs no other test."""
    stack = Stack.for_tests(ADMIN_URL, services=("identity", "inbox"), extra_env=dict(TEST_ENV))
    try:
        stack.start()
        gateway = stack.start_gateway()
        stack.supervise()
        yield Supervised(stack, gateway)
    finally:
        stack.stop()


@dataclass
class Stream:
    """A steady stream of requests from a thread: (seconds since start, status or error)."""

    client: httpx.Client
    path: str
    headers: dict[str, str]
    answers: list[tuple[float, int | str, dict[str, Any] | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Stream:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            at = time.monotonic() - self.started
            try:
                response = self.client.get(self.path, headers=self.headers, timeout=5)
            except httpx.HTTPError as exc:
                self.answers.append((at, type(exc).__name__, None))
                continue
            self.answers.append((at, response.status_code, response.json()))

    def statuses(self) -> set[int | str]:
        return {status for _, status, _ in self.answers}


def wait_until(check: object, timeout: float) -> float:
    """Seconds until `check()` is true; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s")


def kill(stack: Stack, name: str) -> int:
    pid = stack.processes[name].pid
    assert pid is not None and stack.processes[name].running
    os.kill(pid, signal.SIGKILL)
    return pid


def test_backoff_doubles_to_a_cap_and_resets_once_settled() -> None:
    backoff = Backoff(first=0.5, longest=10.0, settled=30.0)
    delays, previous = [], None
    for _ in range(7):
        previous = backoff.delay(previous, uptime=1.0)
        delays.append(previous)
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.delay(10.0, uptime=31.0) == 0.5


def test_a_crashing_process_is_restarted_with_growing_delays_until_the_stack_stops(
    tmp_path: Path,
) -> None:
    stack = Stack(database_url="postgresql://unused/none", workdir=tmp_path)
    with stack.lock:
        crasher = Process("crasher", ["sh", "-c", "exit 3"], {}, tmp_path / "c.log")
        sleeper = Process("sleeper", ["sleep", "60"], {}, tmp_path / "s.log")
        stack.processes.update(crasher=crasher, sleeper=sleeper)
        crasher.start()
        sleeper.start()
    stack.supervise(Backoff(first=0.1, longest=0.4, settled=30.0))
    try:
        time.sleep(2.0)
        assert 3 <= crasher.restarts <= 8, crasher.restarts  # 0.1, 0.2, 0.4, 0.4, … apart
        assert crasher.restart_delay == 0.4
        sleeper_pid = sleeper.pid
        stack.stop_process("sleeper")  # stopped on purpose: stays stopped
        time.sleep(0.5)
        assert not sleeper.running and sleeper.pid == sleeper_pid and sleeper.restarts == 0
    finally:
        stack.stop()
    restarts = crasher.restarts
    time.sleep(0.6)
    assert crasher.restarts == restarts and not crasher.running  # stop() ends the supervision


def test_a_killed_service_is_back_within_seconds_and_its_routes_answer_503_meanwhile(
    supervised: Supervised, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="plixa.mesh")
    stack = supervised.stack
    with httpx.Client(base_url=supervised.gateway) as client:
        token = register(client)["token"]
        me = bearer(token)
        assert client.get("/v1/me", headers=me).status_code == 200

        with Stream(client, "/v1/me", me) as stream:
            time.sleep(0.3)
            old_pid = kill(stack, "identity")
            killed_at = time.monotonic()
            # A token the gateway has not cached cannot be checked now: 503, never a 401.
            unknown = client.get("/v1/me", headers=bearer("12345|not-cached"), timeout=2)
            assert unknown.status_code == 503, unknown.text
            # Serving again: a request through the gateway to one of identity's routes succeeds.
            back_after = wait_until(
                lambda: client.get("/v1/me", headers=me, timeout=2).status_code == 200,
                back_within(stack, "identity"),
            )
            time.sleep(0.3)
        assert time.monotonic() - killed_at < back_within(stack, "identity") + 1

    process = stack.processes["identity"]
    assert process.running and process.pid != old_pid and process.restarts == 1
    assert "identity exited (signal 9)" in caplog.text and "identity restarted" in caplog.text
    # The gateway never went away: every answer was a 200 or an enveloped 503.
    assert stream.statuses() <= {200, 503}, stream.statuses()
    outage = [body for _, status, body in stream.answers if status == 503]
    assert outage, "no request fell in the outage"
    for body in outage:
        assert body is not None and body["data"] is None
        assert [e["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]
    assert stream.answers[-1][1] == 200
    print(f"identity back {back_after:.2f}s after SIGKILL; {len(outage)} answers were 503")


def test_the_others_keep_serving_while_one_service_is_down(supervised: Supervised) -> None:
    stack = supervised.stack
    inbox = f"127.0.0.1:{stack.ports['inbox']}"
    identity = f"127.0.0.1:{stack.ports['identity']}"
    wait_until(lambda: grpc_serving_quietly(identity), 30.0)  # whatever an earlier test did
    with httpx.Client(base_url=supervised.gateway) as client:
        me = bearer(register(client)["token"])
        with Stream(client, "/v1/me", me) as stream:
            time.sleep(0.3)
            kill(stack, "inbox")
            wait_until(lambda: not grpc_serving_quietly(inbox), 2.0)  # it really is down
            back_after = wait_until(
                lambda: grpc_serving_quietly(inbox), back_within(stack, "inbox")
            )
            time.sleep(0.3)
    # identity's routes answered throughout inbox's outage.
    assert stream.answers and stream.statuses() == {200}, stream.statuses()
    assert stack.processes["inbox"].restarts == 1
    print(f"inbox back {back_after:.2f}s after SIGKILL")


def grpc_serving_quietly(address: str) -> bool:
    try:
        return grpc_serving(address)
    except Exception:
        return False
