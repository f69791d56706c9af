"""Encryption at rest for secrets a service must read back (TOTP seeds, webhook signing keys).
Secrets that only need checking are hashed instead."""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from services.kit.config import SettingError, secret_setting

DEV_KEY_SEED = b"plixa-local-development-encryption-key"
DEV_ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(DEV_KEY_SEED).digest()).decode()


def encryption_key() -> bytes:
    """PLIXA_ENCRYPTION_KEY, a Fernet key (32 url-safe base64 bytes), checked at start. Only when
    it is unset in development does the development key stand in (see `secret_setting`)."""
    key = secret_setting("PLIXA_ENCRYPTION_KEY", DEV_ENCRYPTION_KEY).strip().encode()
    try:
        valid = len(base64.urlsafe_b64decode(key)) == 32
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise SettingError(
            "PLIXA_ENCRYPTION_KEY",
            "must be a Fernet key: 32 bytes in url-safe base64 (Fernet.generate_key())",
        )
    return key


class SecretBox:
    """Seals and opens short secrets with the service's encryption key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("sealed with another key or corrupted") from exc
