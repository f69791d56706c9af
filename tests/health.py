"""The health check every service's own tests run: the service starts alone as a process on a
real PostgreSQL and NATS, answers the gRPC health check as SERVING, and a SIGTERM stops it
cleanly (it drains, then exits 0)."""

from __future__ import annotations

from scripts.mesh import Stack, grpc_serving
from tests.conftest import ADMIN_URL


def assert_serves_health_and_stops_cleanly(service: str) -> None:
    stack = Stack.for_tests(ADMIN_URL, services=(service,))
    try:
        stack.start()  # migrates, starts the process, waits until it is SERVING
        assert grpc_serving(f"127.0.0.1:{stack.ports[service]}")
        process = stack.processes[service]
        stack.stop_process(service)
        assert process.popen is not None and process.popen.returncode == 0
    finally:
        stack.stop()
