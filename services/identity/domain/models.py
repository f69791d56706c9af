"""Identity's domain objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.identity.domain import plans


@dataclass(frozen=True)
class Tenant:
    id: int
    name: str
    slug: str
    country_code: str
    timezone: str
    locale: str
    status: str
    tax_id: str | None = None
    require_two_factor: bool = False
    agent_restricted_to_own_conversations: bool = False
    currency: str = "USD"
    logo_key: str | None = None
    onboarding_dismissed_at: datetime | None = None


@dataclass(frozen=True)
class User:
    id: int
    tenant_id: int
    name: str
    email: str
    role: str
    locale: str
    password_hash: str = ""
    two_factor_secret: str | None = None  # sealed (encrypted), never plain
    two_factor_enabled_at: datetime | None = None
    two_factor_last_step: int | None = None
    deletion_requested_at: datetime | None = None
    deletion_scheduled_for: datetime | None = None
    is_founder: bool = False  # registered the workspace: the one owner who governs the others

    @property
    def two_factor_enabled(self) -> bool:
        return self.two_factor_enabled_at is not None


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    email: str
    password_hash: str = ""
    two_factor_secret: str | None = None  # sealed (encrypted), never plain
    two_factor_enabled_at: datetime | None = None
    two_factor_last_step: int | None = None

    @property
    def two_factor_enabled(self) -> bool:
        return self.two_factor_enabled_at is not None


@dataclass(frozen=True)
class StoredToken:
    id: int
    kind: str
    tenant_id: int | None
    user_id: int | None
    staff_id: int | None
    secret_hash: bytes
    abilities: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    """A token row as the workspace's owner manages it (API tokens)."""

    id: int
    kind: str
    tenant_id: int | None
    user_id: int | None
    name: str
    prefix: str
    abilities: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class InvitationRecord:
    id: int
    tenant_id: int
    email: str
    role: str
    token_hash: bytes
    token_sealed: str  # the plain link token, sealed, so it can be resent
    invited_by: int | None
    expires_at: datetime
    accepted_at: datetime | None
    accepted_user_id: int | None
    cancelled_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Presence:
    """A member's availability switch, heartbeat and last announced status."""

    id: int
    tenant_id: int
    name: str
    is_available: bool
    last_heartbeat_at: datetime | None
    announced_status: str


@dataclass(frozen=True)
class Entitlements:
    """What a workspace may use (billing's replica, or the default plan)."""

    plan: str = plans.DEFAULT_PLAN
    status: str = plans.DEFAULT_STATUS
    features: tuple[str, ...] = plans.DEFAULT_FEATURES
    limits: dict[str, int] = field(default_factory=lambda: dict(plans.DEFAULT_LIMITS))

    def limit(self, name: str) -> int:
        return int(self.limits.get(name, plans.DEFAULT_LIMITS.get(name, 0)))


@dataclass(frozen=True)
class Session:
    """A member signed in: what register and login answer."""

    user: User
    tenant: Tenant
    token: str
    two_factor: bool = False  # the token only opens the two-factor challenge


@dataclass(frozen=True)
class StaffSession:
    """A staff sign-in: a full session, or a token that opens only the challenge
    (`two_factor`) or only two-factor enrolment (`two_factor_enrolment`)."""

    staff: Staff
    token: str
    two_factor: bool = False
    two_factor_enrolment: bool = False
