"""Runs the scheduling service: `python -m services.scheduling`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

from services.kit.server import ServiceApp
from services.scheduling.settings import SchedulingSettings

app = ServiceApp("scheduling", settings=SchedulingSettings)

if __name__ == "__main__":
    app.main()
