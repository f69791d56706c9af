"""What a workspace may use until billing's entitlements reach identity (PLANS.md: a new workspace
with no subscription runs on starter). Billing owns the catalogue; this is only the default."""

from __future__ import annotations

DEFAULT_PLAN = "starter"
DEFAULT_STATUS = "active"
DEFAULT_FEATURES = ("flows", "scheduling")
DEFAULT_LIMITS = {"seats": 3, "whatsapp_numbers": 1, "ai_tokens_per_month": 0}
