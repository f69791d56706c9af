"""`make run`: the provider fakes scheduling needs, started in this process's threads for each
provider whose URL is not configured; returns the env vars that point the services at them."""

from __future__ import annotations

import logging
import os

from tests.fakes.google import GoogleFake
from tests.fakes.holidays import HolidaysFake

log = logging.getLogger("plixa.fakes")


def start_unconfigured() -> dict[str, str]:
    env: dict[str, str] = {}
    if not os.environ.get("PLIXA_GOOGLE_API_URL"):
        google = GoogleFake().start()
        env |= {
            "PLIXA_GOOGLE_AUTH_URL": f"{google.url}/o/oauth2/v2/auth",
            "PLIXA_GOOGLE_TOKEN_URL": f"{google.url}/token",
            "PLIXA_GOOGLE_API_URL": google.url,
            "PLIXA_GOOGLE_CLIENT_ID": os.environ.get("PLIXA_GOOGLE_CLIENT_ID", "plixa-local"),
            "PLIXA_GOOGLE_CLIENT_SECRET": os.environ.get(
                "PLIXA_GOOGLE_CLIENT_SECRET", "plixa-local-secret"
            ),
        }
        log.warning("PLIXA_GOOGLE_API_URL unset: Google Calendar fake on %s", google.url)
    if not os.environ.get("PLIXA_HOLIDAYS_URL"):
        holidays = HolidaysFake().start()
        env["PLIXA_HOLIDAYS_URL"] = holidays.url
        log.warning("PLIXA_HOLIDAYS_URL unset: public-holidays fake on %s", holidays.url)
    return env
