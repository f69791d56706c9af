"""`make run`: migrations, every service and the gateway as separate processes, on this machine's
PostgreSQL and NATS. A process that dies is restarted with backoff (logged here); only Ctrl-C
(SIGINT or SIGTERM to this script) stops them all, cleanly. Seeds nothing: register through the
API."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from scripts.mesh import ROOT, Stack
from services.kit.config import SERVICE_PORTS, SERVICES, database_url, nats_url, setting_int


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every health poll
    logs = ROOT / "var" / "log"
    logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        database_url=database_url(),
        nats_url=nats_url(),
        ports={s: setting_int(f"PLIXA_{s.upper()}_PORT", SERVICE_PORTS[s]) for s in SERVICES},
        workdir=logs,
        storage_dir=ROOT / "var" / "storage",
    )
    # ── scheduling: provider fakes (Google Calendar, public holidays) when none is configured
    from tests.fakes.local import start_unconfigured

    stack.extra_env.update(start_unconfigured())
    # ── end scheduling
    # ── notifications' providers: the local fakes stand in for those left unset ──
    fakes = start_notification_fakes(stack.extra_env)
    stopping = threading.Event()

    def request_stop(*_: object) -> None:
        stopping.set()
        if stack.supervisor is not None:
            stack.supervisor.stop_restarting()  # the children got Ctrl-C too: let them go

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        url = stack.start_gateway(port=setting_int("PLIXA_GATEWAY_PORT", 8000))
        stack.supervise()
        print(f"\nPlixa is running: {url}  (OpenAPI: {url}/v1/openapi.json)")
        print(f"services: {', '.join(SERVICES)}; logs in {Path(logs).relative_to(ROOT)}/")
        if stack.evolution is not None:  # PLIXA_EVOLUTION_URL unset: the local fake stands in
            print(f"WhatsApp: local Evolution API fake on {stack.evolution.url}")
        print("A process that dies is restarted. Ctrl-C stops everything.\n", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        print("stopping…", flush=True)
        stack.stop()
        for fake in fakes:
            fake.stop()
        print("stopped.")
    return 0


def start_notification_fakes(env: dict[str, str]) -> list[Any]:
    """The email provider's fake when PLIXA_EMAIL_API_URL is unset, and a webhook receiver on
    :8790 that local webhook endpoints may point at (127.0.0.1 allowed unless configured)."""
    from tests.fakes.email_provider import EmailProvider
    from tests.fakes.webhook_receiver import WebhookReceiver

    started: list[Any] = []
    if "PLIXA_EMAIL_API_URL" not in os.environ:
        email = EmailProvider(8791).start()
        env["PLIXA_EMAIL_API_URL"] = email.url
        started.append(email)
        print(f"email: the fake provider on {email.url} (GET /_sent lists what was sent)")
    if "PLIXA_WEBHOOK_ALLOWED_PRIVATE_HOSTS" not in os.environ:
        env["PLIXA_WEBHOOK_ALLOWED_PRIVATE_HOSTS"] = "127.0.0.1"
        with contextlib.suppress(OSError):
            started.append(WebhookReceiver(8790).start())
            print("webhooks: a fake receiver on http://127.0.0.1:8790 (GET /_received)")
    return started


if __name__ == "__main__":
    sys.exit(main())
