"""Runs the notifications service: `python -m services.notifications`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

from services.kit.server import ServiceApp
from services.notifications.settings import NotificationsSettings

app = ServiceApp("notifications", settings=NotificationsSettings)

if __name__ == "__main__":
    app.main()
