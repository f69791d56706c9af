"""Resend's HTTP API, as far as Plixa uses it (providers/others.md): POST /emails with
`Authorization: Bearer re_…` and an optional Idempotency-Key → 200 {"id"}; errors
{"statusCode", "message", "name"}. The same Idempotency-Key answers the first email's id and
sends nothing more. `fail_next` makes the next N sends answer 500.

Run alone: `python -m tests.fakes.email_provider [port]` (GET /_sent lists what was sent)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.httpfake import FakeServer, answer, read_body


class EmailProvider:
    def __init__(self, port: int = 0, api_key: str = "re_local_development") -> None:
        self.api_key = api_key
        self.sent: list[dict[str, Any]] = []
        self.by_key: dict[str, str] = {}
        self.fail_next = 0
        self.server = FakeServer(self._handle, port)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> EmailProvider:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def emails(self) -> list[dict[str, Any]]:
        with self.server.lock:
            return list(self.sent)

    def _error(self, request: BaseHTTPRequestHandler, status: int, name: str, message: str) -> None:
        body = {"statusCode": status, "message": message, "name": name}
        answer(request, status, json.dumps(body).encode())

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if method == "GET" and request.path == "/_sent":
            answer(request, 200, json.dumps(self.emails()).encode())
            return
        body = read_body(request)
        if method != "POST" or request.path != "/emails":
            self._error(request, 404, "not_found", "Not found")
            return
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            self._error(request, 401, "missing_api_key", "Missing or invalid API key")
            return
        try:
            email = json.loads(body)
        except ValueError:
            self._error(request, 422, "validation_error", "Invalid JSON")
            return
        missing = [k for k in ("from", "to", "subject") if not email.get(k)]
        if missing or not (email.get("html") or email.get("text")):
            self._error(request, 422, "validation_error", f"Missing {missing or 'html/text'}")
            return
        key = request.headers.get("idempotency-key")
        with self.server.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                failing = True
            else:
                failing = False
            if not failing and key and key in self.by_key:
                answer(request, 200, json.dumps({"id": self.by_key[key]}).encode())
                return
            if not failing:
                email_id = str(uuid.uuid4())
                if key:
                    self.by_key[key] = email_id
                self.sent.append(
                    {**email, "id": email_id, "idempotency_key": key, "at": time.time()}
                )
        if failing:
            self._error(request, 500, "internal_server_error", "Try again")
            return
        answer(request, 200, json.dumps({"id": email_id}).encode())


if __name__ == "__main__":
    provider = EmailProvider(int(sys.argv[1]) if len(sys.argv) > 1 else 8791).start()
    print(f"email provider on {provider.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        provider.stop()
