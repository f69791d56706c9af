"""Identity's settings, read and validated once at start (`ServiceApp` loads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Self

from services.kit.config import ServiceSettings, setting, setting_float, setting_int, setting_url
from services.kit.crypto import encryption_key

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True, kw_only=True)
class IdentitySettings(ServiceSettings):
    scrypt_log_n: int  # scrypt cost N = 2^value: OWASP's 2^17 in production, tests lower it
    hash_concurrency: int  # scrypt hashes at once (128 MiB each at 2^17): bounds identity's memory
    hash_wait_seconds: float  # how long a sign-in waits for a hashing slot before 503
    encryption_key: bytes = field(repr=False)  # seals TOTP seeds and invitation links at rest
    panel_url: str  # where invitation links point
    public_url: str  # base of public file URLs (logos)
    storage_dir: Path  # uploaded logos
    deletion_grace: timedelta  # time to cancel an account deletion
    heartbeat_timeout: timedelta  # silence after which an available member is "away"
    sweep_seconds: float  # how often the away sweep and the deletion job run
    session_idle: timedelta  # a panel session unused this long is refused (sliding)
    session_lifetime: timedelta  # a panel session this old is refused, used or not
    staff_session_lifetime: timedelta  # a staff session this old is refused

    @classmethod
    def load(cls, name: str = "identity") -> Self:
        return cls(
            **cls.common(name),
            scrypt_log_n=setting_int("PLIXA_SCRYPT_LOG_N", 17, minimum=10, maximum=20),
            hash_concurrency=setting_int("PLIXA_SCRYPT_CONCURRENCY", 2, minimum=1, maximum=64),
            hash_wait_seconds=setting_float(
                "PLIXA_SCRYPT_WAIT_SECONDS", 2.0, minimum=0.1, maximum=60
            ),
            encryption_key=encryption_key(),
            panel_url=setting_url("PLIXA_PANEL_URL", "http://127.0.0.1:3000"),
            public_url=setting_url("PLIXA_PUBLIC_URL", "http://127.0.0.1:8000"),
            storage_dir=Path(setting("PLIXA_STORAGE_DIR", "var/storage")),
            deletion_grace=timedelta(
                days=setting_int("PLIXA_DELETION_GRACE_DAYS", 14, minimum=0, maximum=365)
            ),
            heartbeat_timeout=timedelta(
                seconds=setting_int("PLIXA_HEARTBEAT_TIMEOUT_SECONDS", 90, minimum=5)
            ),
            sweep_seconds=setting_float(
                "PLIXA_IDENTITY_SWEEP_SECONDS", 15.0, minimum=0.1, maximum=3600
            ),
            session_idle=timedelta(
                seconds=setting_int("PLIXA_SESSION_IDLE_SECONDS", 30 * DAY, minimum=1)
            ),
            session_lifetime=timedelta(
                seconds=setting_int("PLIXA_SESSION_LIFETIME_SECONDS", 90 * DAY, minimum=1)
            ),
            staff_session_lifetime=timedelta(
                seconds=setting_int(
                    "PLIXA_STAFF_SESSION_LIFETIME_SECONDS", 12 * HOUR, minimum=1, maximum=DAY
                )
            ),
        )
