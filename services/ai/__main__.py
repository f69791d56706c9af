"""Runs the ai service: `python -m services.ai`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

import grpc

from services.ai.settings import AiSettings
from services.kit.server import ServiceApp, ServiceContext


def register(server: grpc.aio.Server, ctx: ServiceContext[AiSettings]) -> None:
    """No public RPCs yet."""


app = ServiceApp("ai", settings=AiSettings, register=register)

if __name__ == "__main__":
    app.main()
