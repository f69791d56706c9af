"""Bearer tokens in use: resolving one into a principal, and revoking one.

Panel sessions slide: one unused for `idle` is refused, and one older than `lifetime` is refused
even if used all along. Staff tokens (sessions, challenge and enrolment tokens) live at most
`staff_lifetime`. API and challenge tokens keep their own `expires_at`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import events_pb2
from services.identity.domain import plans, tokens
from services.identity.domain.models import StoredToken
from services.identity.store import principals
from services.identity.store import tokens as token_store
from services.identity.store.principals import TokenHolder
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, unauthenticated
from services.kit.fastsql import Reads

# Writing last_used_at on every request would turn each read into a write; a minute is enough
# (or a tenth of the idle timeout, when that is short, so the slide stays accurate).
TOUCH_EVERY = timedelta(minutes=1)
STAFF_KINDS = frozenset({"staff", "staff_challenge", "staff_enrolment"})


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(days=30)
    lifetime: timedelta = timedelta(days=90)
    staff_lifetime: timedelta = timedelta(hours=12)

    @property
    def touch_every(self) -> timedelta:
        return min(TOUCH_EVERY, self.idle / 10)


def invalid_token() -> DomainError:
    return unauthenticated("UNAUTHENTICATED", "The bearer token is invalid or has expired.")


def session_expired() -> DomainError:
    return unauthenticated("SESSION_EXPIRED", "The session has expired; sign in again.")


def expired(stored: StoredToken, now: datetime, policy: SessionPolicy) -> bool:
    """Whether the session's own time is up (pure: the token row and the clock)."""
    age = now - stored.created_at
    if stored.kind in STAFF_KINDS:
        return age >= policy.staff_lifetime
    if stored.kind == "panel":
        idle = now - (stored.last_used_at or stored.created_at)
        return age >= policy.lifetime or idle >= policy.idle
    return False


async def authenticate(uow: Reads, bearer: str, policy: SessionPolicy) -> Principal:
    """The principal of a bearer token, from one joined query (the gateway asks on cache misses);
    the expiry is decided on that query's token columns, with no further round trip."""
    parsed = tokens.parse(bearer)
    if parsed is None:
        raise invalid_token()
    token_id, secret = parsed
    holder = await principals.token_holder(uow, token_id)
    if holder is None:
        raise invalid_token()
    stored, now = holder.token, uow.clock.now()
    if (
        stored.revoked_at is not None
        or (stored.expires_at is not None and stored.expires_at <= now)
        or not tokens.matches(secret, stored.secret_hash)
    ):
        raise invalid_token()
    if expired(stored, now, policy):
        raise session_expired()
    if stored.last_used_at is None or now - stored.last_used_at >= policy.touch_every:
        await principals.touch_token(uow, stored.id, now)
    if stored.kind in STAFF_KINDS:
        return _staff_principal(holder)
    return _member_principal(holder)


def _member_principal(holder: TokenHolder) -> Principal:
    stored, user, tenant = holder.token, holder.user, holder.tenant
    if stored.tenant_id is None or stored.user_id is None or user is None or tenant is None:
        raise invalid_token()
    entitled = holder.entitled
    return Principal(
        kind=Principal.KIND_USER,
        user_id=user.id,
        tenant_id=tenant.id,
        role=user.role,
        token_id=stored.id,
        abilities=stored.abilities,
        tenant_status=tenant.status,
        plan=entitled.plan if entitled else plans.DEFAULT_PLAN,
        features=entitled.features if entitled else plans.DEFAULT_FEATURES,
        email=user.email,
        two_factor_enabled=user.two_factor_enabled,
        two_factor_required=tenant.require_two_factor,
        two_factor_pending=stored.kind == "challenge",
        # A staff member acting as this member: services attribute its actions to them, and the
        # access rule keeps it off staff and credential routes.
        impersonator_staff_id=(stored.staff_id or 0) if stored.kind == "impersonation" else 0,
    )


def _staff_principal(holder: TokenHolder) -> Principal:
    staff = holder.staff
    if staff is None:
        raise invalid_token()
    # Two-factor is mandatory for staff: only a full session issued after the account enrolled
    # opens the staff routes. An enrolment token (or a session from before the enrolment, which
    # never passed a second factor) opens only the enrolment routes; a challenge token, only the
    # challenge.
    stored, enrolled_at = holder.token, staff.two_factor_enabled_at
    return Principal(
        kind=Principal.KIND_STAFF,
        staff_id=staff.id,
        token_id=holder.token.id,
        abilities=holder.token.abilities,
        email=staff.email,
        two_factor_enabled=(
            stored.kind == "staff" and enrolled_at is not None and enrolled_at <= stored.created_at
        ),
        two_factor_required=True,
        two_factor_pending=stored.kind == "staff_challenge",
    )


async def revoke_current(uow: UnitOfWork) -> int:
    """Revokes exactly the token of this request; other devices and integrations keep theirs."""
    principal = uow.principal
    if await token_store.revoke(uow, principal.token_id, uow.clock.now()):
        uow.emit(
            "identity.token.revoked",
            events_pb2.TokenRevoked(
                token_id=principal.token_id,
                user_id=principal.user_id,
                tenant_id=principal.tenant_id,
                staff_id=principal.staff_id,
            ),
            tenant_id=principal.tenant_id or None,
        )
    return principal.token_id
