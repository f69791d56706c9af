"""A small threaded HTTP server base for the fakes: start on a free port, stop, and a lock; and
`JsonFakeServer`, for the JSON providers (Google, holidays), which records every request and
answers from `respond(method, path, query, body, headers) -> (status, json)`."""

from __future__ import annotations

import json
import threading
from abc import abstractmethod
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

Handle = Callable[[BaseHTTPRequestHandler, str], None]  # (the request, its method)


class FakeServer:
    """Serves `handle(request, method)` on 127.0.0.1 from a background thread."""

    def __init__(self, handle: Handle, port: int = 0) -> None:
        self.handle = handle
        self.lock = threading.RLock()  # a fake's handler may take it again while answering
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_DELETE(self) -> None:
                fake.handle(self, "DELETE")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def read_body(request: BaseHTTPRequestHandler) -> bytes:
    length = int(request.headers.get("content-length") or 0)
    return request.rfile.read(length) if length else b""


def answer(
    request: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
) -> None:
    request.send_response(status)
    request.send_header("content-type", content_type)
    request.send_header("content-length", str(len(body)))
    request.end_headers()
    if body:
        request.wfile.write(body)


class JsonFakeServer(FakeServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(self._answer_json, port)
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def _answer_json(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        raw = read_body(request)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, parts.path, query, raw))
        status, payload = self.respond(method, parts.path, query, raw, dict(request.headers))
        answer(request, status, json.dumps(payload).encode() if payload is not None else b"")

    @abstractmethod
    def respond(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        """(status, JSON body or None) for one request: each fake answers its provider's routes."""
