"""Plixa staff accounts: created from the command line, signed in through the API."""

from __future__ import annotations

from services.identity.domain import throttle, tokens
from services.identity.domain.credentials import check_password
from services.identity.domain.models import Staff, StaffSession
from services.identity.store import staff as store
from services.identity.store import tokens as token_store
from services.kit.db import UnitOfWork
from services.kit.errors import invalid, not_found
from services.kit.validation import Checker


async def load_for_login(uow: UnitOfWork, email: str) -> Staff | None:
    await throttle.claim_attempt(uow, "staff", email)  # counted before any password work
    return await store.find_by_email(uow, email.strip())


async def complete_login(
    uow: UnitOfWork, staff: Staff | None, email: str, password_ok: bool
) -> StaffSession | None:
    """A session, or None when refused (the attempt was counted when claimed)."""
    if staff is None or not password_ok:
        return None
    await throttle.record_success(uow, "staff", email)
    secret = tokens.new_secret()
    token_id = await token_store.add(
        uow,
        kind="staff",
        name="backoffice",
        secret_hash=secret.digest,
        prefix=secret.prefix,
        abilities=["*"],
        created_at=uow.clock.now(),
        staff_id=staff.id,
    )
    return StaffSession(staff, tokens.render(token_id, secret.plain))


def check_new_staff(name: str, email: str, password: str) -> tuple[str, str]:
    check = Checker()
    clean_name = check.text("name", name)
    clean_email = check.email("email", email)
    check_password(check, "password", password)
    check.done()
    return clean_name, clean_email


async def create(uow: UnitOfWork, *, name: str, email: str, password_hash: str) -> Staff:
    if await store.find_by_email(uow, email):
        raise invalid("email", "A staff account with this email exists.", "taken")
    return await store.add(
        uow, name=name, email=email, password_hash=password_hash, at=uow.clock.now()
    )


async def me(uow: UnitOfWork) -> Staff:
    staff = await store.get(uow, uow.principal.staff_id)
    if staff is None:
        raise not_found("Staff account")
    return staff
