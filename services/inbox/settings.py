"""Inbox's settings, read and validated once at start (`ServiceApp` loads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from services.kit.config import (
    ServiceSettings,
    secret_setting,
    setting_float,
    setting_url,
)
from services.kit.crypto import encryption_key

DEV_EVOLUTION_KEY = "plixa-local-evolution-key"


@dataclass(frozen=True, kw_only=True)
class InboxSettings(ServiceSettings):
    evolution_url: str  # PLIXA_EVOLUTION_URL: the Evolution API (the local fake when unset)
    evolution_api_key: str = field(repr=False)  # PLIXA_EVOLUTION_API_KEY: its global key
    evolution_timeout_seconds: float  # one request to Evolution
    webhook_base_url: str  # PLIXA_PUBLIC_URL: the gateway's public URL Evolution posts to
    encryption_key: bytes = field(repr=False)  # seals Evolution's per-instance keys
    sweep_seconds: float  # how often the snooze wake-up and the send retry jobs look
    retry_pending_after_seconds: float  # a send still pending this long is retried by the job

    @classmethod
    def load(cls, name: str = "inbox") -> Self:
        return cls(
            **cls.common(name),
            evolution_url=setting_url("PLIXA_EVOLUTION_URL", "http://127.0.0.1:8081"),
            evolution_api_key=secret_setting("PLIXA_EVOLUTION_API_KEY", DEV_EVOLUTION_KEY),
            evolution_timeout_seconds=setting_float(
                "PLIXA_EVOLUTION_TIMEOUT_SECONDS", 10.0, minimum=0.1, maximum=120
            ),
            webhook_base_url=setting_url("PLIXA_PUBLIC_URL", "http://127.0.0.1:8000"),
            encryption_key=encryption_key(),
            sweep_seconds=setting_float("PLIXA_INBOX_SWEEP_SECONDS", 5.0, minimum=0.1),
            retry_pending_after_seconds=setting_float(
                "PLIXA_INBOX_RETRY_PENDING_AFTER_SECONDS", 60.0, minimum=0.1
            ),
        )
