"""`Idempotency-Key` on every POST, as Stripe does: a retry gets the first answer again, byte for
byte, instead of doing the thing twice (sending a customer the same WhatsApp message twice).

State is shared by every gateway replica in a NATS JetStream KV bucket whose entries live 24 h:
- The first request creates its entry as "in flight" (`kv.create` fails when the key exists, so
  exactly one request, on whichever replica, wins), runs, then stores its answer (status, the
  headers that describe the body, the body). A 5xx or 429 is not stored: the entry is released
  and a retry runs again. A replica that dies mid-request leaves an in-flight entry that expires
  after the route's deadline, so retries are not blocked for a day.
- A retry with the same key and the same request gets the stored answer with
  `Idempotent-Replayed: true`. "The same request" is the same RPC with the same transcoded
  protobuf message (path, query and body as the service would see them), so the JSON's key order
  or a multipart boundary does not matter. The same key with another request is a 422.
- A duplicate that arrives while the first is in flight waits for it (up to 2 s, then 409).

Keys are scoped: per workspace for members, per staff account, and per client address on public
routes (register, sign-in, accepting an invitation), where no principal exists. The route's
policy and rate limit are checked before a replay, as for any request.

Answers can hold secrets shown once (a new API token, a session token), so an entry's name is an
HMAC of (scope, key) and its value is encrypted with a key derived from the client's
Idempotency-Key, which is never stored: the bucket alone cannot be read back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import nats.errors
from cryptography.fernet import Fernet, InvalidToken
from fastapi.responses import Response
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from gateway.errors import GatewayError, invalid_input
from services.kit.messaging import NatsLink

log = logging.getLogger("plixa.gateway.idempotency")
HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
BUCKET = "plixa_idempotency"
MAX_KEY_LENGTH = 255
# The headers that describe a stored body; per-request ones (request id, limits) are not kept.
KEPT_HEADERS = frozenset({"content-type", "cache-control", "x-content-type-options", "location"})
WAIT_SECONDS = 2.0  # how long a duplicate waits for the first request before a 409
POLL_SECONDS = 0.05
MAX_STORED_BYTES = 512 * 1024  # NATS refuses messages above 1 MB; bigger answers are not kept
UNSAFE_SCOPE_CHARS = re.compile(r"[^A-Za-z0-9_-]")
LOST_RACE = (KeyWrongLastSequenceError, BadRequestError)
NATS_FAILURES = (nats.errors.Error, TimeoutError, OSError)


@dataclass(frozen=True)
class Claim:
    """This request owns the key: it must `finish` or `release` it."""

    entry: str
    revision: int
    box: Fernet
    fingerprint: str


def fingerprint(full_method: str, serialized_request: bytes) -> str:
    return hashlib.sha256(full_method.encode() + b"\0" + serialized_request).hexdigest()


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:  # any header text: it is hashed, never echoed
        raise invalid_input(
            "Idempotency-Key", f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters."
        )


def _unavailable() -> GatewayError:
    return GatewayError(
        503,
        "IDEMPOTENCY_UNAVAILABLE",
        "Idempotent requests cannot be checked right now; retry shortly.",
        headers={"Retry-After": "1"},
    )


class Idempotency:
    def __init__(self, nats_link: NatsLink, secret: bytes, ttl_seconds: int) -> None:
        self.nats = nats_link
        self.secret = secret
        self.ttl_seconds = ttl_seconds
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            js = await self.nats.jetstream()
            try:
                self._kv = await js.key_value(BUCKET)
            except BucketNotFoundError:  # the first replica ever (creating it twice is harmless)
                self._kv = await js.create_key_value(
                    bucket=BUCKET, history=1, ttl=float(self.ttl_seconds)
                )
        return self._kv

    def _derive(self, scope: str, key: str) -> tuple[str, Fernet]:
        material = scope.encode() + b"\0" + key.encode()
        name = hmac.new(self.secret, b"name\0" + material, hashlib.sha256).hexdigest()[:48]
        seal = hmac.new(self.secret, b"seal\0" + material, hashlib.sha256).digest()
        safe_scope = UNSAFE_SCOPE_CHARS.sub("-", scope)
        return f"{safe_scope}.{name}", Fernet(base64.urlsafe_b64encode(seal))

    async def begin(
        self, scope: str, key: str, request_fingerprint: str, in_flight_seconds: float
    ) -> Claim | Response:
        """Claims the key for this request, or answers: the stored response (a replay), 422 for
        a key used with another request, 409 while the first is still running."""
        _check_key(key)
        entry, box = self._derive(scope, key)
        if not self.nats.client or not self.nats.client.is_connected:
            raise _unavailable()  # fail closed: doing it twice is what the caller guards against
        try:
            kv = await self._bucket()
            return await self._claim_or_replay(
                kv, entry, box, request_fingerprint, in_flight_seconds
            )
        except NATS_FAILURES as exc:
            log.warning("idempotency store unavailable: %s", exc)
            raise _unavailable() from None

    async def _claim_or_replay(
        self, kv: KeyValue, entry: str, box: Fernet, print_: str, in_flight_seconds: float
    ) -> Claim | Response:
        pending = {"fp": print_, "state": "pending", "until": time.time() + in_flight_seconds}
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                revision = await kv.create(entry, box.encrypt(_dump(pending)))
                return Claim(entry, revision, box, print_)
            except LOST_RACE:
                pass  # someone has it: look at what they stored
            try:
                found = await kv.get(entry)
            except (KeyNotFoundError, KeyDeletedError):
                continue  # released meanwhile (the first one failed): claim it again
            record = _load(box, found.value or b"")
            if record is None or record["fp"] != print_:
                raise GatewayError(
                    422,
                    "IDEMPOTENCY_KEY_REUSED",
                    "This Idempotency-Key was used with a different request.",
                )
            if record["state"] == "done":
                return _replay(record)
            if record["until"] < time.time():  # its gateway died mid-request: take over
                try:
                    value = box.encrypt(_dump(pending))
                    revision = await kv.update(entry, value, last=found.revision)
                    return Claim(entry, revision, box, print_)
                except LOST_RACE:
                    continue
            if time.monotonic() >= deadline:
                raise GatewayError(
                    409,
                    "IDEMPOTENCY_KEY_IN_USE",
                    "A request with this Idempotency-Key is still in progress; retry shortly.",
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(POLL_SECONDS)

    async def finish(self, claim: Claim, response: Response) -> None:
        """Keeps the answer for retries; a server-side failure or a 429 is released instead."""
        status = response.status_code
        if status >= 500 or status == 429:
            await self.release(claim)
            return
        record = {
            "fp": claim.fingerprint,
            "state": "done",
            "status": status,
            "headers": [[k, v] for k, v in response.headers.items() if k in KEPT_HEADERS],
            "body": base64.b64encode(bytes(response.body)).decode(),
        }
        value = claim.box.encrypt(_dump(record))
        if len(value) > MAX_STORED_BYTES:
            log.warning("answer too large to keep for replays (%d bytes)", len(value))
            await self.release(claim)
            return
        try:
            kv = await self._bucket()
            await kv.update(claim.entry, value, last=claim.revision)
        except LOST_RACE:
            log.warning("an in-flight Idempotency-Key was taken over before it finished")
        except NATS_FAILURES as exc:
            log.warning("could not store an idempotent answer: %s", exc)

    async def release(self, claim: Claim) -> None:
        try:
            kv = await self._bucket()
            await kv.delete(claim.entry, last=claim.revision)
        except (*LOST_RACE, *NATS_FAILURES) as exc:
            log.warning("could not release an Idempotency-Key: %s", exc)


def _dump(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


def _load(box: Fernet, value: bytes) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads(box.decrypt(value))
    except (InvalidToken, ValueError):
        return None  # sealed under another key: a different Idempotency-Key collided
    return record


def _replay(record: dict[str, Any]) -> Response:
    headers = {k: v for k, v in record["headers"]}
    headers[REPLAYED_HEADER] = "true"
    return Response(base64.b64decode(record["body"]), record["status"], headers)
