"""Backoffice's settings, read and validated once at start (`ServiceApp` loads them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Self

from services.kit.config import ServiceSettings, setting_float, setting_int, setting_url


@dataclass(frozen=True, kw_only=True)
class BackofficeSettings(ServiceSettings):
    viewing_ttl: timedelta  # a staff member's "viewing" presence on a ticket lasts this long
    waitlist_per_hour: int  # waitlist sign-ups accepted per client address and hour
    public_url: str  # base of public file URLs (help centre images)
    panel_url: str  # where staff pushes point
    campaign_tick_seconds: float  # how often the campaign sender looks for work
    campaign_lease: timedelta  # a claimed recipient not recorded within this is claimed again

    @classmethod
    def load(cls, name: str = "backoffice") -> Self:
        return cls(
            **cls.common(name),
            viewing_ttl=timedelta(
                seconds=setting_int("PLIXA_SUPPORT_VIEWING_SECONDS", 30, minimum=1, maximum=3600)
            ),
            waitlist_per_hour=setting_int(
                "PLIXA_WAITLIST_PER_ADDRESS_HOUR", 10, minimum=1, maximum=100_000
            ),
            public_url=setting_url("PLIXA_PUBLIC_URL", "http://127.0.0.1:8000"),
            panel_url=setting_url("PLIXA_PANEL_URL", "http://127.0.0.1:3000"),
            campaign_tick_seconds=setting_float(
                "PLIXA_CAMPAIGN_TICK_SECONDS", 2.0, minimum=0.1, maximum=3600
            ),
            campaign_lease=timedelta(
                seconds=setting_int("PLIXA_CAMPAIGN_LEASE_SECONDS", 60, minimum=5, maximum=3600)
            ),
        )
