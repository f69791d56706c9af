"""Inbox's settings, read and validated once at start (`ServiceApp` loads them)."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.config import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class InboxSettings(ServiceSettings):
    """Only the common settings so far; the issue that builds inbox adds its own fields and a
    `load()` (see services/identity/settings.py)."""
