"""Polling for what arrives later (events, jobs, restarts), with one patience for the whole suite.

A poll returns as soon as its condition holds, so a generous patience costs a passing test
nothing; it only stops a slow host (a loaded CI machine) from failing a test that is right.
`PLIXA_TEST_PATIENCE_SECONDS` sets it (default 30)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

PATIENCE_SECONDS = float(os.environ.get("PLIXA_TEST_PATIENCE_SECONDS", "30"))


def poll(check: Callable[[], T], timeout: float = PATIENCE_SECONDS, every: float = 0.1) -> T:
    """`check()`'s first truthy value, or its last value once `timeout` has passed (the caller
    asserts on it, so the failure shows what was seen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def wait_until(
    check: Callable[[], T | None],
    what: str = "condition",
    timeout: float = PATIENCE_SECONDS,
    every: float = 0.1,
) -> T:
    """`check()`'s first truthy value; fails the test naming `what` after `timeout`."""
    value = poll(check, timeout, every)
    if not value:
        raise AssertionError(f"{what}: still {value!r} after {timeout}s")
    return value


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    what: str = "condition",
    timeout: float = PATIENCE_SECONDS,
    every: float = 0.1,
) -> T:
    """The awaitable form of `wait_until`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(every)
