"""Runs the backoffice service: `python -m services.backoffice`.

For now it keeps the staff console's tenant directory from identity's events; the staff API
arrives with the backoffice issue."""

from __future__ import annotations

from services.backoffice.events.identity import SUBSCRIPTIONS
from services.backoffice.settings import BackofficeSettings
from services.kit.server import ServiceApp

app = ServiceApp(
    "backoffice",
    settings=BackofficeSettings,
    subscriptions=lambda ctx: SUBSCRIPTIONS,
)

if __name__ == "__main__":
    app.main()
