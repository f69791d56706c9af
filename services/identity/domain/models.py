"""Identity's domain objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True)
class User:
    id: int
    tenant_id: int
    name: str
    email: str
    role: str
    locale: str
    password_hash: str = ""


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    email: str
    password_hash: str = ""


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


@dataclass(frozen=True)
class Session:
    """A member signed in: what register and login answer."""

    user: User
    tenant: Tenant
    token: str


@dataclass(frozen=True)
class StaffSession:
    staff: Staff
    token: str
