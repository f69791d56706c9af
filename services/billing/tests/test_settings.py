"""Billing's settings: defaults for a local run, refusals naming the variable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.billing.settings import PRICE_SETTINGS, BillingSettings
from services.kit.config import SettingError


def test_defaults_run_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PLIXA_ENV", "PLIXA_STRIPE_SECRET_KEY", "PLIXA_STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    settings = BillingSettings.load()
    assert settings.stripe_api_base == "https://api.stripe.com"
    assert settings.price_ids[("business", "year")] == "price_business_year"
    assert settings.plan_of_price["price_professional_month"] == ("professional", "month")
    assert settings.grace == timedelta(days=7) and settings.application_fee_bps == 500
    assert "sk_" not in repr(settings) and "whsec" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PLIXA_STRIPE_PRICE_BUSINESS_YEAR", "price_professional_month"),  # the same price twice
        ("PLIXA_STRIPE_PRICE_BUSINESS_MONTH", " "),
        ("PLIXA_STRIPE_PRICE_BUSINESS_MONTH", "CHANGE-ME: price_…"),
        ("PLIXA_STRIPE_API_BASE", "api.stripe.com"),
        ("PLIXA_BILLING_GRACE_DAYS", "-1"),
        ("PLIXA_STRIPE_APPLICATION_FEE_BPS", "9000"),
        ("PLIXA_STRIPE_SECRET_KEY", ""),
    ],
)
def test_bad_values_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError) as refused:
        BillingSettings.load()
    assert refused.value.name == name


def test_production_needs_real_stripe_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLIXA_ENV", "production")
    monkeypatch.setenv("PLIXA_INTERNAL_SECRET", "a-real-secret-for-this-test")
    monkeypatch.setenv("PLIXA_NATS_PASSWORD", "a-real-nats-password")
    monkeypatch.delenv("PLIXA_STRIPE_SECRET_KEY", raising=False)
    with pytest.raises(SettingError) as refused:
        BillingSettings.load()
    assert refused.value.name == "PLIXA_STRIPE_SECRET_KEY"
    monkeypatch.setenv("PLIXA_STRIPE_SECRET_KEY", "sk_live_x")
    monkeypatch.delenv("PLIXA_STRIPE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SettingError) as no_webhook_secret:
        BillingSettings.load()
    assert no_webhook_secret.value.name == "PLIXA_STRIPE_WEBHOOK_SECRET"
    monkeypatch.setenv("PLIXA_STRIPE_WEBHOOK_SECRET", "whsec_real")
    with pytest.raises(SettingError) as default_price:
        BillingSettings.load()
    assert default_price.value.name == "PLIXA_STRIPE_PRICE_PROFESSIONAL_MONTH"
    for n, name in enumerate(PRICE_SETTINGS.values()):
        monkeypatch.setenv(name, f"price_1Real{n}")
    assert BillingSettings.load().price_ids[("business", "year")] == "price_1Real3"
