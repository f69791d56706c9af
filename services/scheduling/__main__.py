"""Runs the scheduling service: `python -m services.scheduling`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

import grpc

from services.kit.server import ServiceApp, ServiceContext
from services.scheduling.settings import SchedulingSettings


def register(server: grpc.aio.Server, ctx: ServiceContext[SchedulingSettings]) -> None:
    """No public RPCs yet."""


app = ServiceApp("scheduling", settings=SchedulingSettings, register=register)

if __name__ == "__main__":
    app.main()
