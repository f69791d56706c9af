"""ai alone: SERVING on the health check, a clean stop on SIGTERM."""

from __future__ import annotations

from tests.health import assert_serves_health_and_stops_cleanly


def test_ai_serves_health_and_stops_cleanly() -> None:
    assert_serves_health_and_stops_cleanly("ai")
