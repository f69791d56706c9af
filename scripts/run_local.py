"""`make run`: migrations, every service and the gateway as separate processes, on this machine's
PostgreSQL and NATS. Ctrl-C stops them all cleanly. Seeds nothing: register through the API."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from scripts.mesh import ROOT, Stack
from services.kit.config import SERVICES, database_url, nats_url, setting_int


def main() -> int:
    logs = ROOT / "var" / "log"
    logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        database_url=database_url(),
        nats_url=nats_url(),
        fixed_ports=True,
        workdir=logs,
        storage_dir=ROOT / "var" / "storage",
    )
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        url = stack.start_gateway(port=setting_int("PLIXA_GATEWAY_PORT", 8000))
        print(f"\nPlixa is running: {url}  (OpenAPI: {url}/v1/openapi.json)")
        print(f"services: {', '.join(SERVICES)}; logs in {Path(logs).relative_to(ROOT)}/")
        print("Ctrl-C stops everything.\n", flush=True)
        while not stopping:
            for name, process in list(stack.processes.items()):
                if not process.running:
                    print(f"{name} exited; its log:\n{process.log_tail()}", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("stopping…", flush=True)
        stack.stop()
        print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
