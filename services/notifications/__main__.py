"""Runs the notifications service: `python -m services.notifications`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

import grpc

from services.kit.server import ServiceApp, ServiceContext
from services.notifications.settings import NotificationsSettings


def register(server: grpc.aio.Server, ctx: ServiceContext[NotificationsSettings]) -> None:
    """No public RPCs yet."""


app = ServiceApp("notifications", settings=NotificationsSettings, register=register)

if __name__ == "__main__":
    app.main()
