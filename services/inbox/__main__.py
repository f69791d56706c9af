"""Runs the inbox service: `python -m services.inbox`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

import grpc

from services.inbox.settings import InboxSettings
from services.kit.server import ServiceApp, ServiceContext


def register(server: grpc.aio.Server, ctx: ServiceContext[InboxSettings]) -> None:
    """No public RPCs yet."""


app = ServiceApp("inbox", settings=InboxSettings, register=register)

if __name__ == "__main__":
    app.main()
