"""Runs the billing service: `python -m services.billing`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

import grpc

from services.billing.settings import BillingSettings
from services.kit.server import ServiceApp, ServiceContext


def register(server: grpc.aio.Server, ctx: ServiceContext[BillingSettings]) -> None:
    """No public RPCs yet."""


app = ServiceApp("billing", settings=BillingSettings, register=register)

if __name__ == "__main__":
    app.main()
