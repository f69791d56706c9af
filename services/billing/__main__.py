"""Runs the billing service: `python -m services.billing`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

import grpc

from services.kit.server import ServiceApp, ServiceContext


def register(server: grpc.aio.Server, ctx: ServiceContext) -> None:
    """No public RPCs yet."""


app = ServiceApp("billing", register=register)

if __name__ == "__main__":
    app.main()
