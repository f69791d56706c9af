"""Notifications's settings, read and validated once at start (`ServiceApp` loads them).

Every provider URL and key is one of these (README lists them); `make run` starts the local fakes
(tests/fakes/) only for the ones left unset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from services.kit.config import (
    ServiceSettings,
    SettingError,
    environment,
    secret_setting,
    setting,
    setting_float,
    setting_int,
    setting_url,
)
from services.kit.crypto import encryption_key

# A development-only VAPID key pair (P-256), used only when PLIXA_VAPID_PRIVATE_KEY is unset in
# development: production refuses to start without a real one.
DEV_VAPID_PRIVATE_KEY = "-_gfoMgUMQ_PA8Iv09XuMHIO82pBMrrcPl0ONBJk1KQ"
DEV_VAPID_PUBLIC_KEY = (
    "BHC5KIoMbcQ-8vJ4at9QnBHvB6VPOxYjHJZFBvZQkn8WnbUnfOZ-tKFZxiT0aYfwdyyWHZyBXGi3dgsTzB9A4tw"
)
HOUR = 3600
DAY = 24 * HOUR
# Svix's schedule: after the first try, again 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later.
DEFAULT_RETRY_SCHEDULE = "5,300,1800,7200,18000,36000,36000"


def retry_schedule(name: str, default: str) -> tuple[float, ...]:
    raw = setting(name, default)
    try:
        values = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingError(name, f"must be comma-separated seconds, not {raw!r}") from None
    if not values or any(v < 0 or v != v for v in values):
        raise SettingError(name, f"must list at least one non-negative delay, not {raw!r}")
    return values


def host_list(name: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in setting(name, "").split(",") if h.strip())


@dataclass(frozen=True, kw_only=True)
class NotificationsSettings(ServiceSettings):
    encryption_key: bytes = field(repr=False)  # seals webhook secrets at rest
    retry_schedule: tuple[float, ...]  # seconds between a delivery's attempts
    # Hosts a webhook URL may name even though they resolve to a private or loopback address:
    # a development setting (ignored with PLIXA_ENV=production), for local receivers.
    allowed_private_hosts: frozenset[str]
    webhook_timeout_seconds: float  # one attempt, connect to last byte
    webhook_concurrency: int  # attempts in flight per process
    webhook_endpoint_concurrency: int  # attempts in flight per endpoint per process
    webhook_poll_seconds: float  # how often due deliveries are looked for
    webhook_lease_seconds: float  # a claimed attempt's lease: a crashed worker's claim expires
    webhook_disable_after_seconds: float  # failing this long disables an endpoint
    rotation_overlap_seconds: float  # the old secret keeps signing this long after a rotation
    panel_url: str  # links in emails
    email_api_url: str  # Resend's API (POST /emails)
    email_api_key: str = field(repr=False)
    email_from: str
    live_retention_seconds: float  # how far back Last-Event-ID can resume
    stream_ticket_seconds: float  # a stream ticket's life
    vapid_private_key: str = field(repr=False)  # web push: base64url raw P-256 key
    vapid_public_key: str  # web push: base64url uncompressed point (the browser's key)
    vapid_subject: str  # web push: mailto: contact the push services may reach
    digest_hour_utc: int  # the digest's daily run
    digest_check_seconds: float  # how often the digest job looks whether the run is due

    @classmethod
    def load(cls, name: str = "notifications") -> Self:
        allowed = host_list("PLIXA_WEBHOOK_ALLOWED_PRIVATE_HOSTS")
        if allowed and environment() == "production":
            raise SettingError(
                "PLIXA_WEBHOOK_ALLOWED_PRIVATE_HOSTS", "is a development setting; unset it"
            )
        found = cls(
            **cls.common(name),
            encryption_key=encryption_key(),
            retry_schedule=retry_schedule("PLIXA_WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE),
            allowed_private_hosts=allowed,
            webhook_timeout_seconds=setting_float(
                "PLIXA_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1, maximum=30
            ),
            webhook_concurrency=setting_int(
                "PLIXA_WEBHOOK_CONCURRENCY", 64, minimum=1, maximum=1024
            ),
            webhook_endpoint_concurrency=setting_int(
                "PLIXA_WEBHOOK_ENDPOINT_CONCURRENCY", 8, minimum=1, maximum=256
            ),
            webhook_poll_seconds=setting_float(
                "PLIXA_WEBHOOK_POLL_SECONDS", 0.2, minimum=0.01, maximum=60
            ),
            webhook_lease_seconds=setting_float(
                "PLIXA_WEBHOOK_LEASE_SECONDS", 60.0, minimum=1, maximum=3600
            ),
            webhook_disable_after_seconds=setting_float(
                "PLIXA_WEBHOOK_DISABLE_AFTER_SECONDS", 5 * DAY, minimum=1
            ),
            rotation_overlap_seconds=setting_float(
                "PLIXA_WEBHOOK_ROTATION_OVERLAP_SECONDS", DAY, minimum=0
            ),
            panel_url=setting_url("PLIXA_PANEL_URL", "http://127.0.0.1:3000"),
            email_api_url=setting_url("PLIXA_EMAIL_API_URL", "http://127.0.0.1:8791"),
            email_api_key=secret_setting("PLIXA_EMAIL_API_KEY", "re_local_development"),
            email_from=setting("PLIXA_EMAIL_FROM", "Plixa <no-reply@plixa.app>"),
            live_retention_seconds=setting_float(
                "PLIXA_LIVE_RETENTION_SECONDS", HOUR, minimum=1, maximum=7 * DAY
            ),
            stream_ticket_seconds=setting_float(
                "PLIXA_STREAM_TICKET_SECONDS", 30.0, minimum=1, maximum=300
            ),
            vapid_private_key=secret_setting("PLIXA_VAPID_PRIVATE_KEY", DEV_VAPID_PRIVATE_KEY),
            vapid_public_key=setting("PLIXA_VAPID_PUBLIC_KEY", DEV_VAPID_PUBLIC_KEY),
            vapid_subject=setting("PLIXA_VAPID_SUBJECT", "mailto:ops@plixa.app"),
            digest_hour_utc=setting_int("PLIXA_DIGEST_HOUR_UTC", 9, minimum=0, maximum=23),
            digest_check_seconds=setting_float(
                "PLIXA_DIGEST_CHECK_SECONDS", 60.0, minimum=0.1, maximum=3600
            ),
        )
        if found.webhook_lease_seconds <= found.webhook_timeout_seconds + 1:
            raise SettingError(
                "PLIXA_WEBHOOK_LEASE_SECONDS",
                "must exceed PLIXA_WEBHOOK_TIMEOUT_SECONDS by more than a second (an attempt "
                "must end within its lease, or it could be sent twice)",
            )
        return found
