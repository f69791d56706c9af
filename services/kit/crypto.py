"""Encryption at rest for secrets a service must read back (TOTP seeds, webhook signing keys).
Secrets that only need checking are hashed instead."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from services.kit.config import setting

DEV_KEY_SEED = b"plixa-local-development-encryption-key"


def _key() -> bytes:
    """PLIXA_ENCRYPTION_KEY is a Fernet key (32 url-safe base64 bytes); a dev key otherwise."""
    configured = setting("PLIXA_ENCRYPTION_KEY", "")
    if configured:
        return configured.encode()
    return base64.urlsafe_b64encode(hashlib.sha256(DEV_KEY_SEED).digest())


class SecretBox:
    def __init__(self, key: bytes | None = None) -> None:
        self._fernet = Fernet(key or _key())

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("sealed with another key or corrupted") from exc
