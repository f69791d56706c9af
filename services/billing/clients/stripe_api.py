"""Billing's one door to Stripe: the `stripe` library's StripeClient pointed at the configured
base address (Stripe itself, or the local fake in tests/fakes/stripe.py). Every create carries an
idempotency key derived from what it creates, so a retried call never makes a second object.
Library failures become PAYMENT_PROVIDER_UNAVAILABLE (503), never a stack trace."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import stripe

from services.kit.errors import DomainError

log = logging.getLogger("plixa.billing.stripe")
# The library and its HTTP client log every request at INFO; our own line on failure suffices.
logging.getLogger("stripe").setLevel(logging.WARNING)
logging.getLogger("httpx").setLevel(logging.WARNING)
T = TypeVar("T")


class BadSignature(Exception):
    """A webhook whose signature does not verify (wrong secret, altered body, stale timestamp)."""


def provider_unavailable() -> DomainError:
    return DomainError(
        "PAYMENT_PROVIDER_UNAVAILABLE",
        "The payment provider could not be reached. Try again shortly.",
        503,
        grpc.StatusCode.UNAVAILABLE,
        retry_after_seconds=5,
    )


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def plain(obj: Any) -> dict[str, Any]:
    """A StripeObject (not a dict) as plain nested dicts and lists."""
    if hasattr(obj, "to_dict"):
        return dict(obj.to_dict())
    return dict(obj)


class StripeApi:
    def __init__(
        self,
        secret_key: str,
        api_base: str,
        webhook_secret: str,
        retries: int,
        timeout: float = 15.0,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base, "connect": api_base, "files": api_base},
            max_network_retries=retries,
            # Per attempt; the library's own default is 80 s, longer than any caller waits.
            http_client=stripe.HTTPXClient(timeout=timeout),
        )

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except stripe.StripeError as error:
            log.warning(
                "stripe %s failed: %s (%s)",
                what,
                type(error).__name__,
                error.code or error.http_status,
            )
            raise provider_unavailable() from None

    # ── subscriptions ─────────────────────────────────────────────────────────────────────

    async def create_customer(self, tenant_id: int, name: str) -> str:
        customer = await self._call(
            "customer",
            self.client.v1.customers.create_async(
                {"name": name, "metadata": {"tenant_id": str(tenant_id)}},
                {"idempotency_key": f"plixa-customer-{tenant_id}"},
            ),
        )
        return str(customer.id)

    async def create_subscription_checkout(
        self,
        *,
        tenant_id: int,
        customer_id: str,
        price_id: str,
        plan: str,
        interval: str,
        trial_days: int,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        metadata = {"tenant_id": str(tenant_id), "plan": plan, "interval": interval}
        subscription_data: dict[str, Any] = {"metadata": metadata}
        if trial_days:
            subscription_data["trial_period_days"] = trial_days
        params: Any = {
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(tenant_id),
            "line_items": [{"price": price_id, "quantity": 1}],
            "subscription_data": subscription_data,
            "metadata": {**metadata, "kind": "subscription"},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = await self._call(
            "checkout",
            self.client.v1.checkout.sessions.create_async(
                params, {"idempotency_key": idempotency_key}
            ),
        )
        return CheckoutSession(str(session.id), str(session.url))

    async def create_portal_session(self, customer_id: str, return_url: str) -> str:
        session = await self._call(
            "portal",
            self.client.v1.billing_portal.sessions.create_async(
                {"customer": customer_id, "return_url": return_url}
            ),
        )
        return str(session.url)

    async def retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        subscription = await self._call(
            "subscription", self.client.v1.subscriptions.retrieve_async(subscription_id)
        )
        return plain(subscription)

    # ── Connect ───────────────────────────────────────────────────────────────────────────

    async def create_express_account(self, tenant_id: int) -> dict[str, Any]:
        """The country is the platform's unless the workspace changes it in onboarding."""
        account = await self._call(
            "account",
            self.client.v1.accounts.create_async(
                {"type": "express", "metadata": {"tenant_id": str(tenant_id)}},
                {"idempotency_key": f"plixa-connect-account-{tenant_id}"},
            ),
        )
        return plain(account)

    async def create_onboarding_link(
        self, account_id: str, refresh_url: str, return_url: str
    ) -> str:
        link = await self._call(
            "account link",
            self.client.v1.account_links.create_async(
                {
                    "account": account_id,
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                    "type": "account_onboarding",
                }
            ),
        )
        return str(link.url)

    async def create_login_link(self, account_id: str) -> str:
        link = await self._call(
            "login link", self.client.v1.accounts.login_links.create_async(account_id)
        )
        return str(link.url)

    async def create_deposit_checkout(
        self,
        *,
        tenant_id: int,
        appointment_id: int,
        account_id: str,
        amount_cents: int,
        currency: str,
        description: str,
        application_fee_cents: int,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        metadata = {
            "tenant_id": str(tenant_id),
            "appointment_id": str(appointment_id),
            "kind": "deposit",
        }
        session = await self._call(
            "deposit checkout",
            self.client.v1.checkout.sessions.create_async(
                {
                    "mode": "payment",
                    "client_reference_id": str(tenant_id),
                    "line_items": [
                        {
                            "price_data": {
                                "currency": currency,
                                "unit_amount": amount_cents,
                                "product_data": {"name": description},
                            },
                            "quantity": 1,
                        }
                    ],
                    "payment_intent_data": {
                        "application_fee_amount": application_fee_cents,
                        "transfer_data": {"destination": account_id},
                        "on_behalf_of": account_id,
                        "metadata": metadata,
                    },
                    "metadata": metadata,
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                },
                {"idempotency_key": idempotency_key},
            ),
        )
        return CheckoutSession(str(session.id), str(session.url))

    # ── webhooks ──────────────────────────────────────────────────────────────────────────

    def verify_event(self, payload: bytes, signature: str) -> dict[str, Any]:
        """The event, once its `Stripe-Signature` verifies over the exact raw body (within
        Stripe's 300 s tolerance); BadSignature otherwise (and for a body that is not an event).
        The library checks the signature; the body is then read as plain JSON (no StripeObject
        tree: billing reads the event as data)."""
        try:
            stripe.WebhookSignature.verify_header(payload, signature, self.webhook_secret, 300)
        except stripe.SignatureVerificationError as error:
            raise BadSignature(str(error)) from None
        except UnicodeDecodeError:
            raise BadSignature("the body is not UTF-8") from None
        try:
            data = json.loads(payload)
        except ValueError:
            raise BadSignature("not a Stripe event") from None
        if (
            not isinstance(data, dict)
            or data.get("object") != "event"
            or not isinstance(data.get("id"), str)
            or not isinstance(data.get("type"), str)
            or not isinstance(data.get("data"), dict)
        ):
            raise BadSignature("not a Stripe event")
        return data


def metadata_of(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, Mapping) else {}
