"""Scheduling's settings, read and validated once at start (`ServiceApp` loads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Self

from services.kit.config import (
    ServiceSettings,
    SettingError,
    setting,
    setting_float,
    setting_int,
    setting_url,
)
from services.kit.crypto import encryption_key


def offsets_setting(name: str, default: str) -> tuple[int, ...]:
    raw = setting(name, default).strip()
    try:
        values = tuple(sorted({int(v) for v in raw.split(",") if v.strip()}, reverse=True))
    except ValueError:
        raise SettingError(name, f"must be comma-separated minutes, not {raw!r}") from None
    if any(not 1 <= v <= 43200 for v in values):
        raise SettingError(name, "each offset must be between 1 and 43200 minutes")
    return values


@dataclass(frozen=True, kw_only=True)
class SchedulingSettings(ServiceSettings):
    encryption_key: bytes = field(repr=False)  # seals Google tokens at rest
    min_notice: timedelta  # the earliest a slot may start after now
    horizon: timedelta  # the latest a slot may start after now
    default_reminder_offsets: tuple[int, ...]  # the system default (reminder-config null)
    jobs_every_seconds: float  # reminders, waitlist offers, holiday retries, Google busy
    public_url: str  # the API's public base (Google's redirect URI hangs off it)
    panel_url: str  # where the member's browser lands after the Google consent
    google_client_id: str  # empty: Google Calendar linking is off
    google_client_secret: str = field(repr=False)
    google_auth_url: str  # the consent page
    google_token_url: str  # OAuth token endpoint (code exchange and refresh)
    google_api_url: str  # Calendar API base (freeBusy, events insert)
    holidays_url: str  # Nager.Date base

    @classmethod
    def load(cls, name: str = "scheduling") -> Self:
        return cls(
            **cls.common(name),
            encryption_key=encryption_key(),
            min_notice=timedelta(
                minutes=setting_int("PLIXA_SCHEDULING_MIN_NOTICE_MINUTES", 0, minimum=0)
            ),
            horizon=timedelta(
                days=setting_int("PLIXA_SCHEDULING_HORIZON_DAYS", 365, minimum=1, maximum=3650)
            ),
            default_reminder_offsets=offsets_setting(
                "PLIXA_SCHEDULING_DEFAULT_REMINDERS", "1440,120"
            ),
            jobs_every_seconds=setting_float(
                "PLIXA_SCHEDULING_JOBS_SECONDS", 15.0, minimum=0.1, maximum=3600
            ),
            public_url=setting_url("PLIXA_PUBLIC_URL", "http://127.0.0.1:8000"),
            panel_url=setting_url("PLIXA_PANEL_URL", "http://127.0.0.1:3000"),
            google_client_id=setting("PLIXA_GOOGLE_CLIENT_ID", "").strip(),
            google_client_secret=setting("PLIXA_GOOGLE_CLIENT_SECRET", "").strip(),
            google_auth_url=setting_url(
                "PLIXA_GOOGLE_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth"
            ),
            google_token_url=setting_url(
                "PLIXA_GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"
            ),
            google_api_url=setting_url("PLIXA_GOOGLE_API_URL", "https://www.googleapis.com"),
            holidays_url=setting_url("PLIXA_HOLIDAYS_URL", "https://date.nager.at"),
        )
