"""JSON fakes (Google, holidays) on the shared HTTP base (tests/fakes/httpfake.py): each request
is recorded and answered from `respond(method, path, query, body, headers) -> (status, json)`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.httpfake import FakeServer, answer, read_body


class JsonFakeServer(FakeServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.lock = threading.RLock()  # type: ignore[assignment]  # `respond` may take it again
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        raw = read_body(request)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, parts.path, query, raw))
        status, payload = self.respond(method, parts.path, query, raw, dict(request.headers))
        answer(request, status, json.dumps(payload).encode() if payload is not None else b"")

    def respond(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        raise NotImplementedError  # each fake answers its provider's routes
