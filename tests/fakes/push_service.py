"""A Web Push service (what FCM or Mozilla's autopush are to a browser): `POST /push/{id}` with an
aes128gcm-encrypted body and `Authorization: vapid t=<JWT>, k=<public key>` → 201. It also plays
the browser: `subscribe()` makes a subscription (endpoint, p256dh, auth) whose private key it
keeps, so every push received is decrypted and checked (the VAPID JWT's audience and expiry, the
key). A subscription marked `gone` answers 410, as a push service does for an expired one.

Run alone: `python -m tests.fakes.push_service [port]`."""

from __future__ import annotations

import base64
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.httpfake import FakeServer, answer, read_body


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    id: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes
    gone: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)


class PushService:
    def __init__(self, port: int = 0) -> None:
        self.browsers: dict[str, Browser] = {}
        self.errors: list[str] = []
        self.server = FakeServer(self._handle, port)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> PushService:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def subscribe(self) -> dict[str, Any]:
        """A browser's PushSubscription.toJSON()."""
        browser = Browser(
            secrets.token_hex(8), ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16)
        )
        self.browsers[browser.id] = browser
        public = browser.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{self.url}/push/{browser.id}",
            "keys": {"p256dh": b64url(public), "auth": b64url(browser.auth)},
        }

    def received(self, endpoint: str) -> list[dict[str, Any]]:
        with self.server.lock:
            return list(self.browsers[endpoint.rsplit("/", 1)[1]].received)

    def mark_gone(self, endpoint: str) -> None:
        self.browsers[endpoint.rsplit("/", 1)[1]].gone = True

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        body = read_body(request)
        browser = self.browsers.get(request.path.rsplit("/", 1)[-1])
        if method != "POST" or browser is None:
            answer(request, 404, b"")
            return
        if browser.gone:
            answer(request, 410, b"")
            return
        problem = self._check(request, browser)
        if problem:
            with self.server.lock:
                self.errors.append(problem)
            answer(request, 400, json.dumps({"error": problem}).encode())
            return
        plain = http_ece.decrypt(
            body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
        )
        with self.server.lock:
            browser.received.append(json.loads(plain))
        answer(request, 201, b"")

    def _check(self, request: BaseHTTPRequestHandler, browser: Browser) -> str | None:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("vapid "):
            return "no VAPID authorization"
        parts = dict(p.strip().split("=", 1) for p in authorization[6:].split(","))
        if "t" not in parts or "k" not in parts:
            return "VAPID needs t and k"
        claims = json.loads(unb64url(parts["t"].split(".")[1]))
        if claims.get("aud") != self.url or claims.get("exp", 0) < time.time():
            return f"bad VAPID claims {claims}"
        if request.headers.get("content-encoding") != "aes128gcm":
            return "content-encoding must be aes128gcm"
        if not request.headers.get("ttl"):
            return "TTL missing"
        return None


if __name__ == "__main__":
    service = PushService(int(sys.argv[1]) if len(sys.argv) > 1 else 8792).start()
    print(f"push service on {service.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        service.stop()
