"""SQL for the sign-in throttle. Each claim is one upsert that counts the attempt and returns what
the decision needs, so parallel attempts serialize on the row and none reads a stale count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, literal, select, update
from sqlalchemy import insert as plain_insert
from sqlalchemy.dialects.postgresql import insert

from services.identity.store.tables import login_failures
from services.identity.store.tables import sign_in_attempts_by_address as by_address
from services.identity.store.tables import sign_in_attempts_by_email as by_email
from services.kit.db import UnitOfWork


@dataclass(frozen=True)
class AddressClaim:
    attempts: int  # within the window, this one included
    window_started_at: datetime
    succeeded_at: datetime | None


async def claim_for_address(
    uow: UnitOfWork, kind: str, email: str, address: str, now: datetime, window: timedelta
) -> AddressClaim:
    """Counts one attempt for (email, address); a window older than `window` starts over."""
    expired = by_address.c.window_started_at <= now - window
    query = (
        insert(by_address)
        .values(kind=kind, email=email, address=address, attempts=1, window_started_at=now)
        .on_conflict_do_update(
            index_elements=[by_address.c.kind, by_address.c.email, by_address.c.address],
            set_={
                "attempts": case((expired, 1), else_=by_address.c.attempts + 1),
                "window_started_at": case((expired, now), else_=by_address.c.window_started_at),
            },
        )
        .returning(by_address.c.attempts, by_address.c.window_started_at, by_address.c.succeeded_at)
    )
    row = (await uow.conn.execute(query)).one()
    return AddressClaim(int(row.attempts), row.window_started_at, row.succeeded_at)


async def claim_for_email(
    uow: UnitOfWork,
    kind: str,
    email: str,
    now: datetime,
    *,
    quiet: timedelta,
    free: int,
    base_delay_seconds: float,
    max_delay_seconds: float,
) -> bool:
    """Counts one attempt for the email when it is allowed now, and sets when the next one is:
    at once for the first `free` attempts, then after base·2^k seconds (capped). The count starts
    over after `quiet` without an allowed attempt. False (nothing counted) when it is too early."""
    started_over = by_email.c.last_attempt_at <= now - quiet
    attempts = case((started_over, 1), else_=by_email.c.attempts + 1)
    delay = func.least(max_delay_seconds, base_delay_seconds * func.power(2, attempts - free))
    query = (
        insert(by_email)
        .values(kind=kind, email=email, attempts=1, last_attempt_at=now, next_allowed_at=now)
        .on_conflict_do_update(
            index_elements=[by_email.c.kind, by_email.c.email],
            set_={
                "attempts": attempts,
                "last_attempt_at": now,
                "next_allowed_at": case(
                    (attempts < free, literal(now)),
                    else_=literal(now) + func.make_interval(0, 0, 0, 0, 0, 0, delay),
                ),
            },
            where=started_over | (by_email.c.next_allowed_at <= now),
        )
        .returning(by_email.c.attempts)
    )
    return (await uow.conn.execute(query)).first() is not None


async def email_next_allowed(uow: UnitOfWork, kind: str, email: str) -> datetime | None:
    query = select(by_email.c.next_allowed_at).where(
        by_email.c.kind == kind, by_email.c.email == email
    )
    return (await uow.conn.execute(query)).scalar_one_or_none()


async def record_success(
    uow: UnitOfWork, kind: str, email: str, address: str, now: datetime
) -> None:
    """The address's count starts over, and the address is known for this email from now on."""
    await uow.conn.execute(
        update(by_address)
        .where(by_address.c.kind == kind, by_address.c.email == email)
        .where(by_address.c.address == address)
        .values(attempts=0, window_started_at=now, succeeded_at=now)
    )


# ── the failure log, still used by the two-factor challenge ────────────────────────────────


async def failures_since(
    uow: UnitOfWork, subject: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many failures since `since`, and the oldest of them."""
    row = (
        await uow.conn.execute(
            select(func.count(), func.min(login_failures.c.failed_at)).where(
                login_failures.c.subject == subject, login_failures.c.failed_at >= since
            )
        )
    ).one()
    return int(row[0]), row[1]


async def record_failure(uow: UnitOfWork, subject: str, at: datetime) -> None:
    await uow.conn.execute(plain_insert(login_failures).values(subject=subject, failed_at=at))


async def clear(uow: UnitOfWork, subject: str, before: datetime | None = None) -> None:
    query = delete(login_failures).where(login_failures.c.subject == subject)
    if before is not None:
        query = query.where(login_failures.c.failed_at < before)
    await uow.conn.execute(query)


async def prune(
    uow: UnitOfWork,
    *,
    address_window_before: datetime,
    known_before: datetime,
    email_quiet_before: datetime,
    failures_before: datetime,
    now: datetime,
) -> int:
    """Deletes counters that no longer decide anything; returns how many rows went."""
    removed = 0
    for query in (
        delete(by_address)
        .where(by_address.c.window_started_at <= address_window_before)
        .where(by_address.c.succeeded_at.is_(None) | (by_address.c.succeeded_at <= known_before)),
        delete(by_email)
        .where(by_email.c.last_attempt_at <= email_quiet_before)
        .where(by_email.c.next_allowed_at <= now),
        delete(login_failures).where(login_failures.c.failed_at < failures_before),
    ):
        removed += (await uow.conn.execute(query)).rowcount or 0
    return removed
