"""The one entitlements function, alone: subscriptions, licences, grace and the default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.billing.domain import plans
from services.billing.domain.entitlements import (
    DEFAULT,
    LicenseState,
    SubscriptionState,
    compute,
    current_subscription,
    snapshot_order,
)
from services.identity.domain import plans as identity_defaults
from tests.conftest import PLAN_FEATURES, PLAN_LIMITS

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(days=7)


def sub(
    status: str, plan: str = "professional", created_days_ago: int = 10, **kw: object
) -> SubscriptionState:
    created = NOW - timedelta(days=created_days_ago)
    values: dict[str, object] = {
        "id": f"sub_{status}_{created_days_ago}",
        "plan": plan,
        "status": status,
        "interval": "month",
        "stripe_created_at": created,
        "snapshot_at": created,
        **kw,
    }
    return SubscriptionState(**values)  # type: ignore[arg-type]


def test_the_catalogue_is_plans_md_and_identitys_default() -> None:
    for key, spec in plans.PLANS.items():
        assert sorted(spec.features) == sorted(PLAN_FEATURES[key])
        assert spec.limits == PLAN_LIMITS[key]
    starter = plans.PLANS["starter"]
    assert sorted(identity_defaults.DEFAULT_FEATURES) == sorted(starter.features)
    assert starter.limits == identity_defaults.DEFAULT_LIMITS
    assert plans.plan("no-such-plan").key == "starter"


def test_without_anything_a_workspace_runs_on_starter() -> None:
    assert compute([], None, now=NOW, grace=GRACE) == DEFAULT
    assert DEFAULT.plan == "starter" and DEFAULT.status == "active" and DEFAULT.review_at is None


def test_trialing_and_active_grant_the_plan() -> None:
    for status in ("trialing", "active"):
        got = compute([sub(status, "business")], None, now=NOW, grace=GRACE)
        assert (got.plan, got.status) == ("business", status)
        assert "api_access" in got.features and got.limits["seats"] == 50


def test_past_due_keeps_the_plan_during_grace_then_starter() -> None:
    started = NOW - timedelta(days=3)
    within = compute([sub("past_due", current_period_start=started)], None, now=NOW, grace=GRACE)
    assert (within.plan, within.status) == ("professional", "past_due")
    assert within.review_at == started + GRACE
    after = compute(
        [sub("past_due", current_period_start=NOW - timedelta(days=8))], None, now=NOW, grace=GRACE
    )
    assert (after.plan, after.status, after.review_at) == ("starter", "past_due", None)
    assert "booking_deposits" not in after.features


def test_ended_subscriptions_are_starter() -> None:
    for status in ("canceled", "unpaid", "incomplete_expired"):
        got = compute([sub(status)], None, now=NOW, grace=GRACE)
        assert (got.plan, got.status) == ("starter", "canceled"), status
    assert compute([sub("incomplete")], None, now=NOW, grace=GRACE) == DEFAULT


def test_the_newest_live_subscription_decides() -> None:
    old_live = sub("active", "business", created_days_ago=100)
    new_dead = sub("canceled", "professional", created_days_ago=1)
    assert current_subscription([new_dead, old_live]) == old_live
    new_live = sub("trialing", "professional", created_days_ago=2)
    assert current_subscription([old_live, new_live, new_dead]) == new_live
    assert current_subscription([new_dead]) == new_dead
    assert current_subscription([]) is None


def test_a_licence_overrides_until_it_expires_or_is_revoked() -> None:
    license = LicenseState("business", expires_at=NOW + timedelta(days=30))
    got = compute([sub("active", "professional")], license, now=NOW, grace=GRACE)
    assert (got.plan, got.status, got.review_at) == ("business", "licensed", license.expires_at)
    expired = LicenseState("business", expires_at=NOW)
    assert compute([sub("active")], expired, now=NOW, grace=GRACE).plan == "professional"
    revoked = LicenseState("business", NOW + timedelta(days=30), revoked_at=NOW)
    assert compute([], revoked, now=NOW, grace=GRACE) == DEFAULT


def test_same_grant_ignores_the_review_time() -> None:
    a = compute([sub("past_due", current_period_start=NOW)], None, now=NOW, grace=GRACE)
    b = compute([sub("active")], None, now=NOW, grace=GRACE)
    assert not a.same_grant(b) and a.same_grant(a) and not a.same_grant(None)
    c = compute([sub("active")], None, now=NOW + timedelta(days=1), grace=GRACE)
    assert b.same_grant(c)


def test_snapshots_order_by_finality_then_event_time_then_period() -> None:
    t = NOW
    later = t + timedelta(seconds=1)
    assert snapshot_order("canceled", t, None) > snapshot_order("active", later, later)
    assert snapshot_order("active", later, t) > snapshot_order("past_due", t, later)
    assert snapshot_order("active", t, later) > snapshot_order("active", t, t)
    assert snapshot_order("active", t, t) == snapshot_order("active", t, t)  # a duplicate
