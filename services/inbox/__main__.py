"""Runs the inbox service: `python -m services.inbox`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

from services.inbox.settings import InboxSettings
from services.kit.server import ServiceApp

app = ServiceApp("inbox", settings=InboxSettings)

if __name__ == "__main__":
    app.main()
