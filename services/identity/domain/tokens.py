"""Bearer tokens look like `<id>|<secret>`; only SHA-256 of the secret is stored. The secret has
240 bits of entropy, so a fast hash is enough (unlike passwords)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class NewSecret:
    plain: str
    digest: bytes
    prefix: str


def new_secret() -> NewSecret:
    plain = secrets.token_urlsafe(30)
    return NewSecret(plain, digest(plain), plain[:8])


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse(token: str) -> tuple[int, str] | None:
    """(id, secret) of a well-formed token, else None."""
    token_id, sep, secret = token.partition("|")
    if not sep or not token_id.isdigit() or not secret or len(token_id) > 18:
        return None
    return int(token_id), secret


def matches(secret: str, stored_digest: bytes) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


def render(token_id: int, secret: str) -> str:
    return f"{token_id}|{secret}"
