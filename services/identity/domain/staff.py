"""Plixa staff accounts: created from the command line, signed in through the API.

Two-factor is mandatory for staff. A password sign-in never gives a session by itself: it gives a
short-lived token that opens only the challenge (enrolled accounts) or only the enrolment (the
others); passing the challenge or confirming the enrolment gives the staff session. The TOTP and
recovery-code logic is the members' (`two_factor`), on the staff table."""

from __future__ import annotations

from datetime import timedelta

from plixa.identity.v1 import events_pb2
from services.identity.domain import sessions, throttle, tokens, two_factor
from services.identity.domain.accounts import CHALLENGE_LIFETIME
from services.identity.domain.credentials import check_password
from services.identity.domain.models import Staff, StaffSession
from services.identity.domain.two_factor import FactorKeys
from services.identity.store import recovery_codes as code_store
from services.identity.store import second_factor as factor_store
from services.identity.store import staff as store
from services.identity.store import tokens as token_store
from services.identity.store.second_factor import Holder
from services.kit.db import Database, UnitOfWork
from services.kit.errors import invalid, not_found
from services.kit.validation import Checker

# Time to scan the QR code and type a first code.
ENROLMENT_LIFETIME = timedelta(minutes=15)


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
    return await _second_step(uow, staff)


async def _second_step(uow: UnitOfWork, staff: Staff) -> StaffSession:
    """The token a right password earns: the challenge's, or the enrolment's."""
    if staff.two_factor_enabled:
        token = await _issue(uow, staff, "staff_challenge", [], CHALLENGE_LIFETIME)
        return StaffSession(staff, token, two_factor=True)
    token = await _issue(uow, staff, "staff_enrolment", [], ENROLMENT_LIFETIME)
    return StaffSession(staff, token, two_factor_enrolment=True)


async def _issue(
    uow: UnitOfWork,
    staff: Staff,
    kind: str,
    abilities: list[str],
    lifetime: timedelta | None = None,
) -> str:
    secret = tokens.new_secret()
    now = uow.clock.now()
    token_id = await token_store.add(
        uow,
        kind=kind,
        name="backoffice",
        secret_hash=secret.digest,
        prefix=secret.prefix,
        abilities=abilities,
        created_at=now,
        staff_id=staff.id,
        expires_at=now + lifetime if lifetime else None,
    )
    return tokens.render(token_id, secret.plain)


async def _full_session(uow: UnitOfWork, staff: Staff) -> StaffSession:
    """Spends the token of this request (challenge or enrolment) for a staff session; its
    lifetime is the policy's (`sessions.SessionPolicy.staff_lifetime`)."""
    await sessions.revoke_current(uow)
    return StaffSession(staff, await _issue(uow, staff, "staff", ["*"]))


def _holder(staff: Staff) -> Holder:
    return Holder("staff", staff.id)


async def start_enrolment(uow: UnitOfWork, keys: FactorKeys) -> tuple[str, str]:
    """A fresh TOTP seed for the calling staff account (the seed and its otpauth URI)."""
    staff = await me(uow)
    return await two_factor.begin_setup(uow, _holder(staff), staff, keys.box)


async def finish_enrolment(
    uow: UnitOfWork, code: str, keys: FactorKeys
) -> tuple[StaffSession, list[str]]:
    """A first valid code turns two-factor on: the enrolment token is spent for a staff session,
    and the recovery codes are answered once."""
    staff = await me(uow)
    codes = await two_factor.finish_setup(uow, _holder(staff), staff, code, keys)
    return await _full_session(uow, staff), codes


async def complete_challenge(
    db: Database, keys: FactorKeys, *, code: str | None, recovery_code: str | None
) -> StaffSession:
    """Like the members' challenge: a wrong code is committed as a failure (it counts towards
    the throttle) before the refusal; a right one spends the challenge token for a session."""
    two_factor.require_one_code(code, recovery_code)
    async with db.reader() as uow:
        staff = await me(uow)
    async with db.unit_of_work() as uow:
        passed = await two_factor.verify(uow, _holder(staff), staff, code, recovery_code, keys)
    if not passed:
        raise two_factor.refused(code)
    async with db.unit_of_work() as uow:
        return await _full_session(uow, staff)


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


async def reset_two_factor(uow: UnitOfWork, email: str) -> Staff:
    """A staff account that lost its second factor (command line only): the factor and its
    recovery codes go, and so does every token of the account, so the next sign-in enrols anew."""
    staff = await store.find_by_email(uow, email.strip())
    if staff is None:
        raise not_found("Staff account")
    await factor_store.clear(uow, _holder(staff))
    await code_store.delete_all(uow, _holder(staff))
    for token_id in await token_store.revoke_all_of_staff(uow, staff.id, uow.clock.now()):
        uow.emit(
            "identity.token.revoked",
            events_pb2.TokenRevoked(token_id=token_id, staff_id=staff.id),
        )
    return staff
