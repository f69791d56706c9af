"""Sign-in throttle, claimed before any password work: each attempt is counted and decided in one
statement per counter, so a parallel burst cannot slip guesses in between a read and a write.

- Strictly per (email, client address): MAX_PER_ADDRESS attempts per ADDRESS_WINDOW, then 429
  until the window ends. A success starts the count over. This stops a guesser at one address.
- Loosely per email, from every address: FREE_PER_EMAIL attempts at once, then each further one
  only after a delay that doubles (1 s, 2 s, 4 s … up to MAX_EMAIL_DELAY), until the email has
  been quiet for EMAIL_QUIET. This slows a guesser spread over many addresses, yet cannot lock
  the owner out: a single address never reaches it, and an address the owner signed in from
  before (within KNOWN_ADDRESS_FOR) skips it altogether.
An attempt refused by the per-email delay is not counted there, so refusals never lengthen it."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from services.identity.store import throttle as store
from services.kit.db import UnitOfWork
from services.kit.errors import rate_limited
from services.kit.principal import client_address

MAX_PER_ADDRESS = 5
ADDRESS_WINDOW = timedelta(minutes=15)
FREE_PER_EMAIL = 10
BASE_EMAIL_DELAY_SECONDS = 1.0
MAX_EMAIL_DELAY = timedelta(minutes=10)
EMAIL_QUIET = timedelta(hours=1)
KNOWN_ADDRESS_FOR = timedelta(days=30)


def _email(email: str) -> str:
    return email.strip().lower()


def _seconds_until(moment: datetime, now: datetime, longest: timedelta) -> int:
    """Whole seconds to wait, within [1, longest]: parallel claims read the clock before they
    queue on the row, so `moment` may come from a claim that read it a little later."""
    wait = math.ceil((moment - now).total_seconds())
    return max(1, min(wait, int(longest.total_seconds())))


async def claim_attempt(uow: UnitOfWork, kind: str, email: str) -> None:
    """Counts a sign-in attempt of `kind` ('user' or 'staff') for `email` from the caller's
    address, or refuses it with 429 and Retry-After (the caller then hashes nothing)."""
    now = uow.clock.now()
    email = _email(email)
    claim = await store.claim_for_address(uow, kind, email, client_address(), now, ADDRESS_WINDOW)
    if claim.attempts > MAX_PER_ADDRESS:
        raise rate_limited(
            _seconds_until(claim.window_started_at + ADDRESS_WINDOW, now, ADDRESS_WINDOW),
            "Too many failed sign-in attempts. Try again later.",
        )
    if claim.succeeded_at is not None and claim.succeeded_at > now - KNOWN_ADDRESS_FOR:
        return
    allowed = await store.claim_for_email(
        uow,
        kind,
        email,
        now,
        quiet=EMAIL_QUIET,
        free=FREE_PER_EMAIL,
        base_delay_seconds=BASE_EMAIL_DELAY_SECONDS,
        max_delay_seconds=MAX_EMAIL_DELAY.total_seconds(),
    )
    if not allowed:
        # Raising rolls the address count back too: a refused attempt costs no guess there.
        next_allowed = await store.email_next_allowed(uow, kind, email)
        raise rate_limited(
            _seconds_until(next_allowed or now, now, MAX_EMAIL_DELAY),
            "Too many failed sign-in attempts for this account. Try again later.",
        )


async def record_success(uow: UnitOfWork, kind: str, email: str) -> None:
    """The caller's address starts over and is known for this email from now on."""
    await store.record_success(uow, kind, _email(email), client_address(), uow.clock.now())


async def claim_check(uow: UnitOfWork, kind: str, key: str) -> None:
    """The strict count alone, for a password check by a signed-in member (`kind` 'reauth',
    keyed by user id): MAX_PER_ADDRESS attempts per ADDRESS_WINDOW from anywhere."""
    now = uow.clock.now()
    claim = await store.claim_for_address(uow, kind, key, "", now, ADDRESS_WINDOW)
    if claim.attempts > MAX_PER_ADDRESS:
        raise rate_limited(
            _seconds_until(claim.window_started_at + ADDRESS_WINDOW, now, ADDRESS_WINDOW),
            "Too many failed attempts. Try again later.",
        )


async def check_passed(uow: UnitOfWork, kind: str, key: str) -> None:
    await store.record_success(uow, kind, key, "", uow.clock.now())


# ── the failure log, still used by the two-factor challenge (two_factor.py) ────────────────
# A code check is cheap (no hashing) and needs a password-authenticated challenge token first.

MAX_FAILURES = MAX_PER_ADDRESS
WINDOW = ADDRESS_WINDOW


def subject_for(kind: str, key: str) -> str:
    return f"{kind}:{key.strip().lower()}"


async def refuse_if_throttled(uow: UnitOfWork, subject: str) -> None:
    now = uow.clock.now()
    count, oldest = await store.failures_since(uow, subject, now - WINDOW)
    if count >= MAX_FAILURES and oldest is not None:
        raise rate_limited(
            _seconds_until(oldest + WINDOW, now, WINDOW),
            "Too many failed attempts. Try again later.",
        )


async def record_failure(uow: UnitOfWork, subject: str) -> None:
    now = uow.clock.now()
    await store.record_failure(uow, subject, now)
    await store.clear(uow, subject, before=now - WINDOW)


async def forget(uow: UnitOfWork, subject: str) -> None:
    await store.clear(uow, subject)


async def prune_expired(uow: UnitOfWork) -> int:
    """Drops counters past every window that reads them: a window over, an email quiet, a known
    address no longer remembered. Deciding with the rest is unchanged, so any replica may run it."""
    now = uow.clock.now()
    return await store.prune(
        uow,
        address_window_before=now - ADDRESS_WINDOW,
        known_before=now - KNOWN_ADDRESS_FOR,
        email_quiet_before=now - EMAIL_QUIET,
        failures_before=now - WINDOW,
        now=now,
    )
