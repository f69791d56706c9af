"""A customer's webhook receiver: records every request (headers, raw body, arrival time) and
answers as told: `ok` (200), `fail` (500), `gone` (410), or slowly (`delay` seconds). `down()`
closes its port (connections are refused) and `up()` opens it again on the same port, so a
receiver can be down for a while and then recover. `dedupe=True` counts a webhook-id once, as a
careful receiver does.

Run alone: `python -m tests.fakes.webhook_receiver [port]` (GET /_received lists what came)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.httpfake import FakeServer, answer, read_body


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class WebhookReceiver:
    def __init__(self, port: int = 0, *, dedupe: bool = False) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.dedupe = dedupe
        self.received: list[Received] = []
        self.seen_ids: set[str] = set()
        self.server = FakeServer(self._handle, port)
        self.port = self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebhookReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def down(self) -> None:
        self.server.stop()

    def up(self) -> None:
        self.server = FakeServer(self._handle, self.port)
        self.server.start()

    def deliveries(self) -> list[Received]:
        with self.server.lock:
            return list(self.received)

    def unique_ids(self) -> set[str]:
        with self.server.lock:
            return set(self.seen_ids)

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if method == "GET" and request.path == "/_received":
            body = json.dumps(
                [{"headers": r.headers, "body": r.body.decode()} for r in self.deliveries()]
            ).encode()
            answer(request, 200, body)
            return
        body = read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.server.lock:
            self.received.append(Received(request.path, headers, body))
            duplicate = headers.get("webhook-id", "") in self.seen_ids
            self.seen_ids.add(headers.get("webhook-id", ""))
        if self.delay:
            time.sleep(self.delay)
        if self.mode == "fail":
            answer(request, 500, b'{"error":"receiver failing"}')
        elif self.mode == "gone":
            answer(request, 410, b'{"error":"gone"}')
        else:
            answer(
                request,
                200,
                b'{"ok":true,"duplicate":%s}'
                % (b"true" if duplicate and self.dedupe else b"false"),
            )


if __name__ == "__main__":
    receiver = WebhookReceiver(int(sys.argv[1]) if len(sys.argv) > 1 else 8790).start()
    print(f"webhook receiver on {receiver.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        receiver.stop()
