"""The member's TOTP second factor (RFC 6238 via pyotp) and its recovery codes.

The sign-in challenge (`complete_challenge`) is the second step of a sign-in with two-factor on.
The seed is sealed at rest; recovery codes are stored as SHA-256 digests (they are random and
high-entropy, like token secrets). A TOTP code is accepted once: the time step it matched is
remembered, and a code of that step or an earlier one is refused."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp

from plixa.identity.v1 import events_pb2
from services.identity.domain import accounts, sessions, throttle
from services.identity.domain.models import Session, User
from services.identity.domain.password_gate import PasswordGate
from services.identity.store import accounts as account_store
from services.identity.store import recovery_codes as code_store
from services.identity.store.accounts import UserChanges
from services.kit.crypto import SecretBox
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, conflict, invalid, not_found

ISSUER = "Plixa"
RECOVERY_CODE_COUNT = 8
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)
# One step either side: a phone clock 30 s off still works.
DRIFT_STEPS = 1


@dataclass(frozen=True)
class Status:
    enabled: bool
    pending_confirmation: bool
    recovery_codes_remaining: int
    enabled_at: datetime | None


def new_recovery_codes() -> list[str]:
    def one() -> str:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(10))
        return f"{raw[:5]}-{raw[5:]}"

    return [one() for _ in range(RECOVERY_CODE_COUNT)]


def digest_code(code: str) -> bytes:
    normalized = code.strip().lower().replace(" ", "")
    if "-" not in normalized and len(normalized) == 10:
        normalized = f"{normalized[:5]}-{normalized[5:]}"
    return hashlib.sha256(normalized.encode()).digest()


def matching_step(seed: str, code: str, now: datetime) -> int | None:
    """The time step whose code equals `code` (within the allowed drift), else None."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(seed)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _emit(uow: UnitOfWork, user: User, action: str) -> None:
    uow.emit(
        "identity.two_factor.changed",
        events_pb2.TwoFactorChanged(user_id=user.id, tenant_id=user.tenant_id, action=action),
        tenant_id=user.tenant_id,
    )
    # The principal carries two_factor_enabled: cached copies are stale now.
    uow.emit(
        "identity.access.changed",
        events_pb2.AccessChanged(tenant_id=user.tenant_id, user_id=user.id),
        tenant_id=user.tenant_id,
    )


async def status(uow: UnitOfWork, user: User) -> Status:
    remaining = await code_store.remaining(uow, user.id) if user.two_factor_enabled else 0
    return Status(
        enabled=user.two_factor_enabled,
        pending_confirmation=user.two_factor_secret is not None and not user.two_factor_enabled,
        recovery_codes_remaining=remaining,
        enabled_at=user.two_factor_enabled_at,
    )


async def start_setup(uow: UnitOfWork, user: User, box: SecretBox) -> tuple[str, str]:
    """A fresh seed (and its otpauth URI); two-factor stays off until a code confirms it."""
    if user.two_factor_enabled:
        raise conflict("TWO_FACTOR_ALREADY_ENABLED", "Two-factor authentication is already on.")
    seed = pyotp.random_base32()
    changes = UserChanges(two_factor_secret=box.seal(seed), two_factor_last_step=None)
    await account_store.update_user(uow, user.id, changes)
    _emit(uow, user, "setup_started")
    uri = pyotp.TOTP(seed).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return seed, uri


async def confirm(uow: UnitOfWork, user: User, code: str, box: SecretBox) -> list[str]:
    if user.two_factor_enabled:
        raise conflict("TWO_FACTOR_ALREADY_ENABLED", "Two-factor authentication is already on.")
    if user.two_factor_secret is None:
        raise conflict("TWO_FACTOR_NOT_SET_UP", "Start two-factor set-up first.")
    step = matching_step(box.open(user.two_factor_secret), code, uow.clock.now())
    if step is None:
        raise invalid("code", "The two-factor code is invalid.")
    changes = UserChanges(two_factor_enabled_at=uow.clock.now(), two_factor_last_step=step)
    await account_store.update_user(uow, user.id, changes)
    codes = await _issue_codes(uow, user)
    _emit(uow, user, "enabled")
    return codes


async def _issue_codes(uow: UnitOfWork, user: User) -> list[str]:
    codes = new_recovery_codes()
    await code_store.replace_all(uow, user.id, [digest_code(c) for c in codes], uow.clock.now())
    return codes


def _require_enabled(user: User) -> None:
    if not user.two_factor_enabled:
        raise conflict("TWO_FACTOR_NOT_ENABLED", "Two-factor authentication is off.")


async def regenerate_codes(uow: UnitOfWork, user: User) -> list[str]:
    _require_enabled(user)
    codes = await _issue_codes(uow, user)
    _emit(uow, user, "recovery_codes_regenerated")
    return codes


async def revoke_code(uow: UnitOfWork, user: User, code: str) -> int:
    _require_enabled(user)
    if not await code_store.use(uow, user.id, digest_code(code), uow.clock.now()):
        raise invalid("code", "This recovery code is unknown or already used.")
    _emit(uow, user, "recovery_code_revoked")
    return await code_store.remaining(uow, user.id)


async def disable(uow: UnitOfWork, user: User) -> None:
    _require_enabled(user)
    tenant = await account_store.get_tenant(uow, user.tenant_id)
    if tenant is not None and tenant.require_two_factor:
        raise DomainError(
            "TWO_FACTOR_REQUIRED_BY_WORKSPACE",
            "This workspace requires two-factor authentication.",
            409,
        )
    changes = UserChanges(
        two_factor_secret=None, two_factor_enabled_at=None, two_factor_last_step=None
    )
    await account_store.update_user(uow, user.id, changes)
    await code_store.delete_all(uow, user.id)
    _emit(uow, user, "disabled")


async def pass_challenge(
    uow: UnitOfWork, user: User, code: str | None, recovery_code: str | None, box: SecretBox
) -> bool:
    """True when the code is right (a TOTP code once per step; a recovery code once ever).
    Failures count towards the throttle; the caller commits before refusing."""
    subject = throttle.subject_for("2fa", str(user.id))
    await throttle.refuse_if_throttled(uow, subject)
    if not user.two_factor_enabled or user.two_factor_secret is None:
        return False
    now = uow.clock.now()
    passed = False
    if code:
        step = matching_step(box.open(user.two_factor_secret), code, now)
        last = user.two_factor_last_step
        if step is not None and (last is None or step > last):
            await account_store.update_user(uow, user.id, UserChanges(two_factor_last_step=step))
            passed = True
    elif recovery_code:
        passed = await code_store.use(uow, user.id, digest_code(recovery_code), now)
        if passed:
            _emit(uow, user, "recovery_code_used")
    if passed:
        await throttle.forget(uow, subject)
    else:
        await throttle.record_failure(uow, subject)
    return passed


def require_one_code(code: str | None, recovery_code: str | None) -> None:
    if not code and not recovery_code:
        raise invalid("code", "Give a two-factor code or a recovery code.", "required")


async def complete_challenge(
    db: Database,
    gate: PasswordGate,
    box: SecretBox,
    *,
    code: str | None,
    recovery_code: str | None,
) -> Session:
    """The member holding a challenge token proves the second factor and gets a full session.
    Two transactions: a wrong code is committed as a failure (it counts towards the throttle)
    before the refusal; a right one spends the challenge token and issues a panel token."""
    require_one_code(code, recovery_code)
    user = await gate.current_user()
    async with db.unit_of_work() as uow:
        passed = await pass_challenge(uow, user, code, recovery_code, box)
    if not passed:
        raise invalid("code" if code else "recovery_code", "The two-factor code is invalid.")
    async with db.unit_of_work() as uow:
        await sessions.revoke_current(uow)  # the challenge token is spent
        tenant = await account_store.get_tenant(uow, user.tenant_id)
        if tenant is None:
            raise not_found("Workspace")
        token = await accounts.issue_panel_token(uow, user)
    return Session(user, tenant, token)
