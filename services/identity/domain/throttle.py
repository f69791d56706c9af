"""Sign-in throttle: after MAX_FAILURES wrong passwords for one email within WINDOW, further tries
are refused with 429 until the oldest failure leaves the window. Checked before hashing, so a
burst of guesses costs us no scrypt time."""

from __future__ import annotations

from datetime import timedelta

from services.identity.store import throttle as store
from services.kit.db import UnitOfWork
from services.kit.errors import rate_limited

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


def subject_for(kind: str, email: str) -> str:
    return f"{kind}:{email.strip().lower()}"


async def refuse_if_throttled(uow: UnitOfWork, subject: str) -> None:
    now = uow.clock.now()
    count, oldest = await store.failures_since(uow, subject, now - WINDOW)
    if count >= MAX_FAILURES and oldest is not None:
        wait = int((oldest + WINDOW - now).total_seconds()) + 1
        raise rate_limited(wait, "Too many failed sign-in attempts. Try again later.")


async def record_failure(uow: UnitOfWork, subject: str) -> None:
    now = uow.clock.now()
    await store.record_failure(uow, subject, now)
    await store.clear(uow, subject, before=now - WINDOW)


async def forget(uow: UnitOfWork, subject: str) -> None:
    await store.clear(uow, subject)
