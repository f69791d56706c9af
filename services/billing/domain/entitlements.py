"""What a workspace may use, computed in one place from its subscriptions, any staff licence and
the default plan. Pure: no I/O, time passed in, so every rule is tested alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.billing.domain import plans

# Stripe statuses in which the subscription still buys its plan (past_due only within grace).
LIVE_STATUSES = frozenset({"trialing", "active", "past_due"})
# Statuses a subscription never leaves: a snapshot with one of them beats any other.
FINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})


@dataclass(frozen=True)
class SubscriptionState:
    """A Stripe subscription as billing last stored it."""

    id: str
    plan: str
    status: str
    interval: str
    stripe_created_at: datetime
    snapshot_at: datetime
    trial_end: datetime | None = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    def grace_ends_at(self, grace: timedelta) -> datetime | None:
        """A past-due subscription keeps its plan until its unpaid period began + grace."""
        if self.status != "past_due":
            return None
        return (self.current_period_start or self.snapshot_at) + grace


@dataclass(frozen=True)
class LicenseState:
    plan: str
    expires_at: datetime
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class Entitlements:
    plan: str
    status: str  # active | trialing | past_due | canceled | licensed
    features: tuple[str, ...]
    limits: dict[str, int] = field(hash=False)
    # When this answer may change with no new input (a licence expiring, a grace period ending).
    review_at: datetime | None = None

    def same_grant(self, other: Entitlements | None) -> bool:
        """Whether `other` grants exactly this (review times aside)."""
        return other is not None and (
            self.plan,
            self.status,
            tuple(sorted(self.features)),
            self.limits,
        ) == (other.plan, other.status, tuple(sorted(other.features)), dict(other.limits))


def _of(plan_key: str, status: str, review_at: datetime | None = None) -> Entitlements:
    spec = plans.plan(plan_key)
    return Entitlements(spec.key, status, spec.features, dict(spec.limits), review_at)


DEFAULT = _of(plans.STARTER, "active")


def current_subscription(subscriptions: Sequence[SubscriptionState]) -> SubscriptionState | None:
    """The subscription that decides: the newest live one, else the newest of all."""
    if not subscriptions:
        return None
    newest_first = sorted(subscriptions, key=lambda s: (s.stripe_created_at, s.id), reverse=True)
    return next((s for s in newest_first if s.live), newest_first[0])


def compute(
    subscriptions: Sequence[SubscriptionState],
    license: LicenseState | None,
    *,
    now: datetime,
    grace: timedelta,
) -> Entitlements:
    """A workspace's plan, features and limits now. A live licence overrides any subscription;
    trialing and active subscriptions grant their plan; past_due keeps it for the grace period
    (counted from the start of the unpaid period), then starter; anything else is starter.
    Losing a plan never deletes data: this only says what may be used from now on."""
    if license is not None and license.active(now):
        return _of(license.plan, "licensed", review_at=license.expires_at)
    subscription = current_subscription(subscriptions)
    if subscription is None:
        return DEFAULT
    status = subscription.status
    if status in ("trialing", "active"):
        return _of(subscription.plan, status)
    if status == "past_due":
        grace_ends_at = subscription.grace_ends_at(grace)
        assert grace_ends_at is not None
        if now < grace_ends_at:
            return _of(subscription.plan, "past_due", review_at=grace_ends_at)
        return _of(plans.STARTER, "past_due")
    if status in ("canceled", "unpaid", "incomplete_expired"):
        return _of(plans.STARTER, "canceled")
    return DEFAULT  # incomplete: the first payment never went through


def snapshot_order(
    status: str, snapshot_at: datetime, period_end: datetime | None
) -> tuple[bool, float, float]:
    """How snapshots of one subscription are ordered, whatever order they arrive in: a final
    status beats everything; otherwise the later event, then the later period."""
    return (
        status in FINAL_STATUSES,
        snapshot_at.timestamp(),
        period_end.timestamp() if period_end else 0.0,
    )
