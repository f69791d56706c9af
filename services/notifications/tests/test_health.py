"""notifications runs as its own process on a real PostgreSQL and NATS: it answers the
gRPC health check as SERVING, and a SIGTERM stops it cleanly."""

from __future__ import annotations

from scripts.mesh import Stack, grpc_serving
from tests.conftest import ADMIN_URL


def test_notifications_serves_health_and_stops_cleanly() -> None:
    stack = Stack.for_tests(ADMIN_URL, services=("notifications",))
    try:
        stack.start()  # migrates, starts the process, waits until it is SERVING
        assert grpc_serving(f"127.0.0.1:{stack.ports['notifications']}")
        process = stack.processes["notifications"]
        stack.stop_process("notifications")  # SIGTERM: drains, then exits
        assert process.popen is not None and process.popen.returncode == 0
    finally:
        stack.stop()
