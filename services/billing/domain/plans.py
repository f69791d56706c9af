"""The plan catalogue (../shared/spec/PLANS.md). Billing owns it; every other service reads a
workspace's features and limits from the principal (identity's replica of billing's events)."""

from __future__ import annotations

from dataclasses import dataclass, field

STARTER = "starter"
PROFESSIONAL = "professional"
BUSINESS = "business"
PAID_PLANS = (PROFESSIONAL, BUSINESS)
INTERVALS = ("month", "year")
TRIAL_DAYS = 7


@dataclass(frozen=True)
class PlanSpec:
    key: str
    name: str
    features: tuple[str, ...]
    limits: dict[str, int] = field(hash=False)
    intervals: tuple[str, ...] = ()
    trial_days: int = 0


_EVERY_PLAN = ("flows", "scheduling")
_PROFESSIONAL = (
    "ai_replies",
    "auto_assignment",
    "booking_deposits",
    "broadcasts",
    "custom_fields",
    *_EVERY_PLAN,
    "webhooks",
)

PLANS: dict[str, PlanSpec] = {
    STARTER: PlanSpec(
        STARTER,
        "Starter",
        _EVERY_PLAN,
        {"seats": 3, "whatsapp_numbers": 1, "ai_tokens_per_month": 0},
    ),
    PROFESSIONAL: PlanSpec(
        PROFESSIONAL,
        "Professional",
        tuple(sorted(_PROFESSIONAL)),
        {"seats": 10, "whatsapp_numbers": 2, "ai_tokens_per_month": 2_000_000},
        INTERVALS,
        TRIAL_DAYS,
    ),
    BUSINESS: PlanSpec(
        BUSINESS,
        "Business",
        tuple(sorted((*_PROFESSIONAL, "api_access"))),
        {"seats": 50, "whatsapp_numbers": 5, "ai_tokens_per_month": 10_000_000},
        INTERVALS,
        TRIAL_DAYS,
    ),
}


def plan(key: str) -> PlanSpec:
    """A plan of the catalogue; an unknown key (a price we no longer map) reads as starter."""
    return PLANS.get(key, PLANS[STARTER])
