"""The TOTP second factor (RFC 6238 via pyotp) and its recovery codes, for members and staff.

The generic part (`begin_setup`, `finish_setup`, `issue_codes`, `verify`) works on any account
with the three two-factor columns (a member or a staff account, told apart by a `Holder`); the
member's use cases wrap it with their events and the workspace rule. The sign-in challenge
(`complete_challenge`) is the second step of a member's sign-in with two-factor on.

The seed is sealed at rest. Recovery codes are kept as HMAC-SHA256 digests under a key derived
from the encryption key (so a leaked table cannot be brute-forced offline: the codes carry about
50 bits). A TOTP code is accepted once: spending its time step is one conditional UPDATE that
only a later step passes, so two parallel challenges with one code cannot both succeed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pyotp

from plixa.identity.v1 import events_pb2
from services.identity.domain import accounts, sessions, throttle
from services.identity.domain.models import Session, User
from services.identity.domain.password_gate import PasswordGate
from services.identity.store import accounts as account_store
from services.identity.store import recovery_codes as code_store
from services.identity.store import second_factor as factor_store
from services.identity.store.second_factor import Holder
from services.kit.crypto import SecretBox
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, conflict, invalid, not_found

ISSUER = "Plixa"
RECOVERY_CODE_COUNT = 8
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)
# One step either side: a phone clock 30 s off still works.
DRIFT_STEPS = 1
# Labels the recovery-code key: never the same bytes as any other use of the encryption key.
RECOVERY_CODE_KEY_LABEL = b"plixa/identity/recovery-codes/v1"


class Enrollable(Protocol):
    """An account with a second factor: a member (`User`) or a staff account (`Staff`)."""

    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def two_factor_secret(self) -> str | None: ...
    @property
    def two_factor_enabled(self) -> bool: ...


@dataclass(frozen=True)
class FactorKeys:
    """The seed sealer and the recovery-code HMAC key, both from PLIXA_ENCRYPTION_KEY: a second
    factor already lives and dies with that key (its seed is sealed with it), so a separate
    secret would add one more thing to provision without separating anything."""

    box: SecretBox
    code_key: bytes

    @classmethod
    def from_encryption_key(cls, encryption_key: bytes) -> FactorKeys:
        code_key = hmac.new(encryption_key, RECOVERY_CODE_KEY_LABEL, hashlib.sha256).digest()
        return cls(SecretBox(encryption_key), code_key)

    def digest_code(self, code: str) -> bytes:
        return hmac.new(self.code_key, normalize_code(code).encode(), hashlib.sha256).digest()


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


def normalize_code(code: str) -> str:
    normalized = code.strip().lower().replace(" ", "")
    if "-" not in normalized and len(normalized) == 10:
        normalized = f"{normalized[:5]}-{normalized[5:]}"
    return normalized


def legacy_digest(code: str) -> bytes:
    """The bare SHA-256 digest codes were kept as before migration 0010 (still accepted)."""
    return hashlib.sha256(normalize_code(code).encode()).digest()


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


# ── any account ───────────────────────────────────────────────────────────────────────────────


def already_enabled() -> DomainError:
    return conflict("TWO_FACTOR_ALREADY_ENABLED", "Two-factor authentication is already on.")


async def begin_setup(
    uow: UnitOfWork, holder: Holder, account: Enrollable, box: SecretBox
) -> tuple[str, str]:
    """A fresh seed (and its otpauth URI); two-factor stays off until a code confirms it."""
    if account.two_factor_enabled:
        raise already_enabled()
    seed = pyotp.random_base32()
    await factor_store.set_seed(uow, holder, box.seal(seed))
    return seed, pyotp.TOTP(seed).provisioning_uri(name=account.email, issuer_name=ISSUER)


async def finish_setup(
    uow: UnitOfWork, holder: Holder, account: Enrollable, code: str, keys: FactorKeys
) -> list[str]:
    """Turns two-factor on with a first valid code; answers the recovery codes (once)."""
    if account.two_factor_enabled:
        raise already_enabled()
    if account.two_factor_secret is None:
        raise conflict("TWO_FACTOR_NOT_SET_UP", "Start two-factor set-up first.")
    now = uow.clock.now()
    step = matching_step(keys.box.open(account.two_factor_secret), code, now)
    if step is None:
        raise invalid("code", "The two-factor code is invalid.")
    if not await factor_store.enable(uow, holder, account.two_factor_secret, now, step):
        raise already_enabled()  # a parallel confirmation won (or a new set-up replaced the seed)
    return await issue_codes(uow, holder, keys)


async def issue_codes(uow: UnitOfWork, holder: Holder, keys: FactorKeys) -> list[str]:
    codes = new_recovery_codes()
    digests = [keys.digest_code(c) for c in codes]
    await code_store.replace_all(uow, holder, digests, uow.clock.now())
    return codes


async def use_recovery_code(uow: UnitOfWork, holder: Holder, code: str, keys: FactorKeys) -> bool:
    return await code_store.use(
        uow, holder, keys.digest_code(code), legacy_digest(code), uow.clock.now()
    )


async def verify(
    uow: UnitOfWork,
    holder: Holder,
    account: Enrollable,
    code: str | None,
    recovery_code: str | None,
    keys: FactorKeys,
) -> bool:
    """True when the code is right and not spent: a TOTP code once per step (and only a step
    later than the last one spent), a recovery code once ever. Failures count towards the
    throttle; the caller commits before refusing."""
    subject = throttle.subject_for("2fa" if holder.kind == "user" else "staff-2fa", str(holder.id))
    await throttle.refuse_if_throttled(uow, subject)
    if not account.two_factor_enabled or account.two_factor_secret is None:
        return False
    passed = False
    if code:
        step = matching_step(keys.box.open(account.two_factor_secret), code, uow.clock.now())
        passed = step is not None and await factor_store.consume_step(uow, holder, step)
    elif recovery_code:
        passed = await use_recovery_code(uow, holder, recovery_code, keys)
    if passed:
        await throttle.forget(uow, subject)
    else:
        await throttle.record_failure(uow, subject)
    return passed


def require_one_code(code: str | None, recovery_code: str | None) -> None:
    if not code and not recovery_code:
        raise invalid("code", "Give a two-factor code or a recovery code.", "required")


def refused(code: str | None) -> DomainError:
    return invalid("code" if code else "recovery_code", "The two-factor code is invalid.")


# ── a workspace member ────────────────────────────────────────────────────────────────────────


def member(user: User) -> Holder:
    return Holder("user", user.id, user.tenant_id)


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
    remaining = await code_store.remaining(uow, member(user)) if user.two_factor_enabled else 0
    return Status(
        enabled=user.two_factor_enabled,
        pending_confirmation=user.two_factor_secret is not None and not user.two_factor_enabled,
        recovery_codes_remaining=remaining,
        enabled_at=user.two_factor_enabled_at,
    )


async def start_setup(uow: UnitOfWork, user: User, box: SecretBox) -> tuple[str, str]:
    seed, uri = await begin_setup(uow, member(user), user, box)
    _emit(uow, user, "setup_started")
    return seed, uri


async def confirm(uow: UnitOfWork, user: User, code: str, keys: FactorKeys) -> list[str]:
    codes = await finish_setup(uow, member(user), user, code, keys)
    _emit(uow, user, "enabled")
    return codes


def _require_enabled(user: User) -> None:
    if not user.two_factor_enabled:
        raise conflict("TWO_FACTOR_NOT_ENABLED", "Two-factor authentication is off.")


async def regenerate_codes(uow: UnitOfWork, user: User, keys: FactorKeys) -> list[str]:
    _require_enabled(user)
    codes = await issue_codes(uow, member(user), keys)
    _emit(uow, user, "recovery_codes_regenerated")
    return codes


async def revoke_code(uow: UnitOfWork, user: User, code: str, keys: FactorKeys) -> int:
    _require_enabled(user)
    if not await use_recovery_code(uow, member(user), code, keys):
        raise invalid("code", "This recovery code is unknown or already used.")
    _emit(uow, user, "recovery_code_revoked")
    return await code_store.remaining(uow, member(user))


async def disable(uow: UnitOfWork, user: User) -> None:
    _require_enabled(user)
    tenant = await account_store.get_tenant(uow, user.tenant_id)
    if tenant is not None and tenant.require_two_factor:
        raise DomainError(
            "TWO_FACTOR_REQUIRED_BY_WORKSPACE",
            "This workspace requires two-factor authentication.",
            409,
        )
    await factor_store.clear(uow, member(user))
    await code_store.delete_all(uow, member(user))
    _emit(uow, user, "disabled")


async def pass_challenge(
    uow: UnitOfWork, user: User, code: str | None, recovery_code: str | None, keys: FactorKeys
) -> bool:
    passed = await verify(uow, member(user), user, code, recovery_code, keys)
    if passed and not code:
        _emit(uow, user, "recovery_code_used")
    return passed


async def complete_challenge(
    db: Database,
    gate: PasswordGate,
    keys: FactorKeys,
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
        passed = await pass_challenge(uow, user, code, recovery_code, keys)
    if not passed:
        raise refused(code)
    async with db.unit_of_work() as uow:
        await sessions.revoke_current(uow)  # the challenge token is spent
        tenant = await account_store.get_tenant(uow, user.tenant_id)
        if tenant is None:
            raise not_found("Workspace")
        token = await accounts.issue_panel_token(uow, user)
    return Session(user, tenant, token)
