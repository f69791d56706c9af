"""Billing's settings, read and validated once at start (`ServiceApp` loads them)."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.config import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class BillingSettings(ServiceSettings):
    """The common settings only, for now: the issue that builds billing adds its fields and
    a `load()` (see services/identity/settings.py)."""
