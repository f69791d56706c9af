"""Runs the ai service: `python -m services.ai`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

from services.ai.settings import AiSettings
from services.kit.server import ServiceApp

app = ServiceApp("ai", settings=AiSettings)

if __name__ == "__main__":
    app.main()
