"""Webhook secrets and signatures.

A secret is `whsec_` + base64 of 32 random bytes (the Standard Webhooks form). Each delivery
carries two signatures:

- `X-Plixa-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body, keyed with the whole secret
  string as shown to the owner (UTF-8), as the API reference promises;
- Standard Webhooks: `webhook-signature: v1,<base64>` = HMAC-SHA256 keyed with the base64-decoded
  part after `whsec_`, of `<webhook-id>.<webhook-timestamp>.<body>`.

During a rotation both secrets sign: X-Plixa-Signature lists both values comma-separated,
webhook-signature space-separated (as the Standard Webhooks spec says)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def plixa_signature(secrets_: Sequence[str], body: bytes) -> str:
    return ",".join(
        "sha256=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets_
    )


def standard_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def standard_signature(
    secrets_: Sequence[str], webhook_id: str, timestamp: int, body: bytes
) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(hmac.new(standard_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


def headers(
    secrets_: Sequence[str], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "Plixa-Webhooks/1",
        "x-plixa-signature": plixa_signature(secrets_, body),
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secrets_, webhook_id, timestamp, body),
    }
