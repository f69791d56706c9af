"""`make run`: migrations, every service and the gateway as separate processes, on this machine's
PostgreSQL and NATS. A process that dies is restarted with backoff (logged here); only Ctrl-C
(SIGINT or SIGTERM to this script) stops them all, cleanly. Seeds nothing: register through the
API."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

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
        print("A process that dies is restarted. Ctrl-C stops everything.\n", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        print("stopping…", flush=True)
        stack.stop()
        print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
