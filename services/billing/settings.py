"""Billing's settings, read and validated once at start (`ServiceApp` loads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Self

from services.kit.config import (
    ServiceSettings,
    SettingError,
    environment,
    secret_setting,
    setting,
    setting_float,
    setting_int,
    setting_url,
)

DEV_STRIPE_SECRET_KEY = "sk_test_plixa_local_development"
DEV_STRIPE_WEBHOOK_SECRET = "whsec_plixa_local_development"
# (plan, interval) → the environment variable naming its Stripe price id, and the default
# (the local fake accepts any price id).
PRICE_SETTINGS = {
    ("professional", "month"): "PLIXA_STRIPE_PRICE_PROFESSIONAL_MONTH",
    ("professional", "year"): "PLIXA_STRIPE_PRICE_PROFESSIONAL_YEAR",
    ("business", "month"): "PLIXA_STRIPE_PRICE_BUSINESS_MONTH",
    ("business", "year"): "PLIXA_STRIPE_PRICE_BUSINESS_YEAR",
}


def _price_ids() -> dict[tuple[str, str], str]:
    """Each plan and interval's Stripe price. The defaults serve the local fake only: in
    production each must be named."""
    production = environment() == "production"
    prices = {
        key: setting(name, f"price_{key[0]}_{key[1]}").strip()
        for key, name in PRICE_SETTINGS.items()
    }
    seen: dict[str, str] = {}
    for key, price in prices.items():
        name = PRICE_SETTINGS[key]
        if not price.startswith("price_") or len(price) < 7 or any(c.isspace() for c in price):
            raise SettingError(name, f"must be a Stripe price id (price_…), not {price!r}")
        if production and price == f"price_{key[0]}_{key[1]}":
            raise SettingError(name, "is the local default; PLIXA_ENV=production needs a price id")
        if price in seen:
            raise SettingError(name, f"repeats the price id of {seen[price]}")
        seen[price] = name
    return prices


@dataclass(frozen=True, kw_only=True)
class BillingSettings(ServiceSettings):
    stripe_secret_key: str = field(repr=False)
    stripe_webhook_secret: str = field(repr=False)
    stripe_api_base: str  # Stripe's API, or the local fake (tests/fakes/stripe.py)
    stripe_max_retries: int
    price_ids: dict[tuple[str, str], str]  # (plan, interval) → Stripe price id
    grace: timedelta  # past_due keeps the plan's features this long, then starter
    application_fee_bps: int  # Connect deposits: Plixa's fee in basis points of the amount
    panel_url: str  # where Stripe sends the browser back (checkout, portal, onboarding)
    sweep_seconds: float  # how often licence expiries and grace ends are applied

    @property
    def plan_of_price(self) -> dict[str, tuple[str, str]]:
        return {price: key for key, price in self.price_ids.items()}

    @classmethod
    def load(cls, name: str = "billing") -> Self:
        return cls(
            **cls.common(name),
            stripe_secret_key=secret_setting("PLIXA_STRIPE_SECRET_KEY", DEV_STRIPE_SECRET_KEY),
            stripe_webhook_secret=secret_setting(
                "PLIXA_STRIPE_WEBHOOK_SECRET", DEV_STRIPE_WEBHOOK_SECRET
            ),
            stripe_api_base=setting_url("PLIXA_STRIPE_API_BASE", "https://api.stripe.com"),
            stripe_max_retries=setting_int("PLIXA_STRIPE_MAX_RETRIES", 2, minimum=0, maximum=10),
            price_ids=_price_ids(),
            grace=timedelta(
                days=setting_float("PLIXA_BILLING_GRACE_DAYS", 7.0, minimum=0, maximum=60)
            ),
            application_fee_bps=setting_int(
                "PLIXA_STRIPE_APPLICATION_FEE_BPS", 500, minimum=0, maximum=5000
            ),
            panel_url=setting_url("PLIXA_PANEL_URL", "http://127.0.0.1:3000"),
            sweep_seconds=setting_float(
                "PLIXA_BILLING_SWEEP_SECONDS", 30.0, minimum=0.1, maximum=3600
            ),
        )
