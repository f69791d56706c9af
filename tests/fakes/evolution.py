"""A local Evolution API v2 (../shared/spec/providers/evolution.md): a real HTTP server on
127.0.0.1 that answers like Evolution, records every request, can fail or be slow on demand,
and posts webhook events to the URL each instance was created with (or to `deliver_to`).

    fake = EvolutionFake(global_key="k").start()
    ... PLIXA_EVOLUTION_URL=fake.url, PLIXA_EVOLUTION_API_KEY=fake.global_key ...
    fake.connect("plixa-1-abc", "5511999990000")        # pairs: posts connection.update open
    fake.inbound_text("plixa-1-abc", "5511988887777", "oi")  # a customer writes
    fake.stop()

Run alone (`python -m tests.fakes.evolution --port 8081`) for a hand-driven local setup."""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

# A 1x1 PNG: the pairing QR image the fake hands out.
_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154"
        "789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeInstance:
    name: str
    token: str
    instance_id: str
    webhook: dict[str, Any]
    state: str = "connecting"  # open | close | connecting
    qr_count: int = 0
    number: str | None = None


@dataclass
class Failure:
    """The next `times` requests whose path starts with `prefix` answer `status` + `body`."""

    prefix: str
    status: int
    body: Any
    times: int


@dataclass
class EvolutionFake:
    global_key: str = field(default_factory=lambda: secrets.token_hex(12))
    host: str = "127.0.0.1"
    port: int = 0
    # When set, webhook events go to `<deliver_to><path of the configured webhook url>`.
    deliver_to: str | None = None
    delay_seconds: float = 0.0
    instances: dict[str, FakeInstance] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # Receipt statuses ("DELIVERY_ACK", …) posted to the webhook for each send *before* the send
    # is answered, as a fast phone can make the real Evolution do.
    receipts_before_answer: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    # ── lifecycle ─────────────────────────────────────────────────────────────────────────

    def start(self) -> EvolutionFake:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ── controls ──────────────────────────────────────────────────────────────────────────

    def fail(self, prefix: str, status: int = 500, body: Any = None, times: int = 1) -> None:
        """Makes the next `times` requests under `prefix` (e.g. "/message/") fail."""
        body = body if body is not None else {"status": status, "error": "Internal Server Error"}
        with self.lock:
            self.failures.append(Failure(prefix, status, body, times))

    def clear_failures(self) -> None:
        with self.lock:
            self.failures.clear()

    def sent(self, instance: str | None = None) -> list[Recorded]:
        """Recorded send requests (/message/...), optionally of one instance."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path.startswith("/message/")
                and (instance is None or r.path.rsplit("/", 1)[-1] == instance)
            ]

    def calls(self, prefix: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    # ── events posted to the webhook ──────────────────────────────────────────────────────

    def post_event(
        self,
        instance: str,
        event: str,
        data: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 15.0,
    ) -> httpx.Response:
        """Posts one event as Evolution does; `headers` replaces the configured ones."""
        with self.lock:
            inst = self.instances[instance]
            url = str(inst.webhook.get("url", ""))
            sent_headers = dict(inst.webhook.get("headers") or {})
            token = inst.token
        if self.deliver_to:
            parts = urlsplit(url)
            url = self.deliver_to.rstrip("/") + parts.path
        envelope = {
            "event": event,
            "instance": instance,
            "data": data,
            "destination": url,
            "date_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "sender": f"{inst.number or '0'}@s.whatsapp.net",
            "server_url": self.url,
            "apikey": token,
        }
        body = raw if raw is not None else json.dumps(envelope).encode()
        all_headers = {
            "content-type": "application/json",
            **(headers if headers is not None else sent_headers),
        }
        return httpx.post(url, content=body, headers=all_headers, timeout=timeout)

    def connect(
        self, instance: str, number: str, profile_name: str = "Plixa Test"
    ) -> httpx.Response:
        with self.lock:
            inst = self.instances[instance]
            inst.state = "open"
            inst.number = number
        return self.post_event(
            instance,
            "connection.update",
            {
                "instance": instance,
                "state": "open",
                "statusReason": 200,
                "wuid": f"{number}@s.whatsapp.net",
                "profileName": profile_name,
            },
        )

    def disconnect(self, instance: str) -> httpx.Response:
        with self.lock:
            self.instances[instance].state = "close"
        return self.post_event(
            instance,
            "connection.update",
            {"instance": instance, "state": "close", "statusReason": 401},
        )

    def qr_updated(self, instance: str) -> httpx.Response:
        code = self._new_qr(instance)
        return self.post_event(
            instance,
            "qrcode.updated",
            {"qrcode": {"instance": instance, "pairingCode": None, **code}},
        )

    def inbound(
        self,
        instance: str,
        phone: str,
        message: dict[str, Any],
        *,
        message_type: str = "conversation",
        message_id: str | None = None,
        push_name: str | None = "Ana",
        timestamp: int | None = None,
        from_me: bool = False,
        context_info: dict[str, Any] | None = None,
        lid: bool = False,
    ) -> httpx.Response:
        key: dict[str, Any] = {
            "remoteJid": f"{phone}@s.whatsapp.net",
            "fromMe": from_me,
            "id": message_id or new_message_id(),
        }
        if lid:
            key["remoteJid"] = f"{secrets.randbelow(10**14)}@lid"
            key["addressingMode"] = "lid"
            key["remoteJidAlt"] = f"{phone}@s.whatsapp.net"
        data: dict[str, Any] = {
            "key": key,
            "pushName": push_name,
            "status": "DELIVERY_ACK",
            "message": message,
            "messageType": message_type,
            "messageTimestamp": timestamp or int(time.time()),
            "instanceId": self.instances[instance].instance_id,
            "source": "android",
        }
        if context_info is not None:
            data["contextInfo"] = context_info
        return self.post_event(instance, "messages.upsert", data)

    def inbound_text(self, instance: str, phone: str, text: str, **kwargs: Any) -> httpx.Response:
        return self.inbound(instance, phone, {"conversation": text}, **kwargs)

    def receipt(
        self, instance: str, message_id: str, status: str, phone: str = "0"
    ) -> httpx.Response:
        return self.post_event(
            instance,
            "messages.update",
            {
                "keyId": message_id,
                "remoteJid": f"{phone}@s.whatsapp.net",
                "fromMe": True,
                "status": status,
                "instanceId": self.instances[instance].instance_id,
            },
        )

    # ── internals ─────────────────────────────────────────────────────────────────────────

    def _new_qr(self, instance: str) -> dict[str, Any]:
        with self.lock:
            inst = self.instances[instance]
            inst.qr_count += 1
            count = inst.qr_count
        return {
            "pairingCode": None,
            "code": f"2@{instance}-{count}-{secrets.token_hex(6)}",
            "base64": f"data:image/png;base64,{_PNG}",
            "count": count,
        }


def new_message_id() -> str:
    return "3EB0" + secrets.token_hex(8).upper()


class _Handler(BaseHTTPRequestHandler):
    owner: EvolutionFake
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        fake = self.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = urlsplit(self.path).path
        with fake.lock:
            fake.requests.append(
                Recorded(method, path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            failure = next((f for f in fake.failures if path.startswith(f.prefix)), None)
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    fake.failures.remove(failure)
        if fake.delay_seconds:
            time.sleep(fake.delay_seconds)
        if failure is not None:
            self._answer(failure.status, failure.body)
            return
        status, answer = route(fake, method, path, self.headers.get("apikey"), body)
        self._answer(status, answer)


def _unauthorized() -> tuple[int, Any]:
    return 401, {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}


def _bad_request(*messages: Any) -> tuple[int, Any]:
    return 400, {"status": 400, "error": "Bad Request", "response": {"message": list(messages)}}


def _not_found_instance(name: str) -> tuple[int, Any]:
    return 404, {
        "status": 404,
        "error": "Not Found",
        "response": {"message": [f'The "{name}" instance does not exist']},
    }


def route(
    fake: EvolutionFake, method: str, path: str, apikey: str | None, body: Any
) -> tuple[int, Any]:
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        return 404, {"message": [f"Cannot {method} {path}"]}
    group, action = parts[0], parts[1]
    name = parts[2] if len(parts) > 2 else None
    with fake.lock:
        inst = fake.instances.get(name) if name else None
    allowed = apikey == fake.global_key or (inst is not None and apikey == inst.token)
    if not allowed:
        return _unauthorized()
    if (group, action, method) == ("instance", "create", "POST"):
        return _create(fake, body or {})
    if (group, action, method) == ("instance", "fetchInstances", "GET"):
        with fake.lock:
            return 200, [
                {"name": i.name, "connectionStatus": i.state, "ownerJid": i.number}
                for i in fake.instances.values()
            ]
    if name is None:
        return 404, {"message": [f"Cannot {method} {path}"]}
    if inst is None:
        return _not_found_instance(name)
    if group == "instance":
        return _instance_action(fake, inst, action, method)
    if group == "message" and method == "POST":
        status, answer = _send(inst, action, body or {})
        with fake.lock:
            early = list(fake.receipts_before_answer)
        if status == 201 and early:
            number = str((body or {}).get("number"))
            for receipt in early:
                fake.receipt(name, answer["key"]["id"], receipt, number)
        return status, answer
    return 404, {"message": [f"Cannot {method} {path}"]}


def _create(fake: EvolutionFake, body: dict[str, Any]) -> tuple[int, Any]:
    name = body.get("instanceName")
    if not name:
        return _bad_request("instanceName is required")
    webhook = body.get("webhook") or {}
    if "events" not in webhook:
        return _bad_request("webhook.events is required")
    with fake.lock:
        if name in fake.instances:
            return 403, {
                "status": 403,
                "error": "Forbidden",
                "response": {"message": [f'This name "{name}" is already in use.']},
            }
        inst = FakeInstance(
            name=name,
            token=body.get("token") or secrets.token_hex(16).upper(),
            instance_id=str(uuid.uuid4()),
            webhook=webhook,
        )
        fake.instances[name] = inst
    qrcode = fake._new_qr(name)
    return 201, {
        "instance": {
            "instanceName": name,
            "instanceId": inst.instance_id,
            "integration": body.get("integration", "WHATSAPP-BAILEYS"),
            "status": "connecting",
        },
        "hash": inst.token,
        "webhook": webhook,
        "settings": {"rejectCall": False, "groupsIgnore": True},
        "qrcode": qrcode,
    }


def _instance_action(
    fake: EvolutionFake, inst: FakeInstance, action: str, method: str
) -> tuple[int, Any]:
    state_body = {"instance": {"instanceName": inst.name, "state": inst.state}}
    if action == "connect" and method == "GET":
        if inst.state == "open":
            return 200, state_body
        inst.state = "connecting"
        return 200, fake._new_qr(inst.name)
    if action == "connectionState" and method == "GET":
        return 200, state_body
    if action == "restart" and method == "POST":
        if inst.state == "close":
            return 200, {"error": True, "message": "Instance is closed"}
        if inst.state == "open":
            return 200, state_body
        return 200, fake._new_qr(inst.name)
    if action == "logout" and method == "DELETE":
        if inst.state == "close":
            return _bad_request(f'The "{inst.name}" instance is not connected')
        inst.state = "close"
        return 200, {
            "status": "SUCCESS",
            "error": False,
            "response": {"message": "Instance logged out"},
        }
    if action == "delete" and method == "DELETE":
        with fake.lock:
            fake.instances.pop(inst.name, None)
        return 200, {
            "status": "SUCCESS",
            "error": False,
            "response": {"message": "Instance deleted"},
        }
    return 404, {"message": [f"Cannot {method} /instance/{action}/{inst.name}"]}


def _send(inst: FakeInstance, action: str, body: dict[str, Any]) -> tuple[int, Any]:
    number = str(body.get("number") or "")
    if not number.isdigit():
        return _bad_request("number is required")
    if number.startswith("000"):  # the fake's "not on WhatsApp"
        return _bad_request({"exists": False, "jid": f"{number}@s.whatsapp.net", "number": number})
    if action == "sendText":
        if not body.get("text"):
            return _bad_request("text is required")
        message: dict[str, Any] = {"conversation": body["text"]}
        kind = "conversation"
    elif action == "sendMedia":
        mediatype = body.get("mediatype")
        if mediatype not in ("image", "video", "document", "audio") or not body.get("media"):
            return _bad_request("mediatype and media are required")
        if mediatype == "document" and not body.get("fileName"):
            return _bad_request("fileName is required for a base64 document")
        kind = f"{mediatype}Message"
        message = {kind: {"mimetype": body.get("mimetype"), "caption": body.get("caption")}}
    elif action == "sendWhatsAppAudio":
        if not body.get("audio"):
            return _bad_request("audio is required")
        kind = "audioMessage"
        message = {kind: {"ptt": True}}
    else:
        return 404, {"message": [f"Cannot POST /message/{action}/{inst.name}"]}
    return 201, {
        "key": {"remoteJid": f"{number}@s.whatsapp.net", "fromMe": True, "id": new_message_id()},
        "pushName": "",
        "status": "PENDING",
        "message": message,
        "messageType": kind,
        "messageTimestamp": int(time.time()),
        "instanceId": inst.instance_id,
        "source": "unknown",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="A local Evolution API fake")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--key", default="plixa-local-evolution-key")
    parser.add_argument("--deliver-to", default=None)
    args = parser.parse_args()
    fake = EvolutionFake(global_key=args.key, port=args.port, deliver_to=args.deliver_to).start()
    print(f"Evolution fake on {fake.url} (apikey {fake.global_key})", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
