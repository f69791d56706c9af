"""Runs the billing service: `python -m services.billing`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

from services.billing.settings import BillingSettings
from services.kit.server import ServiceApp

app = ServiceApp("billing", settings=BillingSettings)

if __name__ == "__main__":
    app.main()
