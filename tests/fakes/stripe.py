"""A local Stripe (../shared/spec/providers/stripe.md): a real HTTP server on 127.0.0.1 that
speaks the wire format the `stripe` library uses (form-encoded bodies with bracket keys, a
Bearer secret key, Idempotency-Key replays, objects carrying `object`, Stripe's error bodies),
keeps customers, checkout sessions, subscriptions, invoices and Connect accounts, and drives
them the way Stripe would: completing a checkout or failing a renewal produces the events Stripe
sends, posted to the webhook URL signed exactly as Stripe signs them
(`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`).

    fake = StripeFake(webhook_secret="whsec_x").start()
    ... PLIXA_STRIPE_API_BASE=fake.url, PLIXA_STRIPE_WEBHOOK_SECRET=fake.webhook_secret ...
    fake.webhook_url = "http://127.0.0.1:8000/v1/webhooks/stripe"
    events = fake.complete_checkout("cs_…")          # the customer paid: events delivered
    fake.subscription_action("sub_…", "fail_payment")  # a renewal fails: past_due
    fake.stop()

Opening a checkout URL (GET /c/pay/cs_…) completes it and redirects to its success_url, so
`make run` can be driven from a browser. Run alone: `python -m tests.fakes.stripe --port 12111`."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.fakes.httpfake import FakeServer

API_VERSION = "2025-09-30.clover"
DAY = 86_400
PERIOD = {"month": 30 * DAY, "year": 365 * DAY}
DEV_WEBHOOK_SECRET = "whsec_plixa_local_development"


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = (
            status,
            message,
            type_,
            code,
            param,
        )

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def missing(kind: str, object_id: str) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`line_items[0][price]=x`, `expand[]=y`) as nested dicts/lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "[]":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe sends for this payload."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class Recorded:
    """One API request as the fake received it (tests assert the wire format on these)."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


class StripeFake:
    def __init__(
        self,
        port: int = 0,
        webhook_secret: str = DEV_WEBHOOK_SECRET,
        webhook_url: str | None = None,
        secret_key_prefix: str = "sk_",
    ) -> None:
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.secret_key_prefix = secret_key_prefix
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, Any]] = {}
        self.private: dict[str, dict[str, Any]] = {}  # what Stripe keeps but does not render
        self.events: list[dict[str, Any]] = []
        self.requests: list[Recorded] = []
        self.idempotent: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = {}
        self.deliveries: list[tuple[str, int]] = []  # (event id, status)
        self._clock = 0
        self.server = FakeServer(self._serve, port)

    # ── life cycle ────────────────────────────────────────────────────────────────────────

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> StripeFake:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def now(self) -> int:
        """Stripe's clock: wall time, strictly increasing per call, so every event the fake
        makes has its own `created` second, in the order it happened."""
        with self.lock:
            self._clock = max(int(time.time()), self._clock + 1)
            return self._clock

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(12)}"

    # ── HTTP ──────────────────────────────────────────────────────────────────────────────

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(request.path)
        length = int(request.headers.get("content-length") or 0)
        raw = request.rfile.read(length) if length else b""
        if split.path.startswith("/c/pay/") and method == "GET":
            self._pay_page(request, split.path.removeprefix("/c/pay/"))
            return
        status, body = 200, dict[str, Any]()
        try:
            params = decode_form(
                parse_qsl(split.query if method == "GET" else raw.decode(), keep_blank_values=True)
            )
            status, body = self._api(request, method, split.path, params)
        except StripeError as error:
            status, body = error.status, error.body()
        except Exception as error:  # a fake bug: answer like Stripe's 500
            status, body = 500, {"error": {"type": "api_error", "message": repr(error)}}
        payload = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
        request.send_header("Stripe-Version", API_VERSION)
        request.end_headers()
        request.wfile.write(payload)

    def _api(
        self, request: BaseHTTPRequestHandler, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip()
        if not auth.startswith("Bearer ") or not key.startswith(self.secret_key_prefix):
            raise StripeError(401, "Invalid API Key provided: " + (key[:8] or "none") + "***")
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.lock:
            self.requests.append(Recorded(method, path, params, headers))
            idempotency = headers.get("idempotency-key")
            memo = (key, path, idempotency or "")
            if method == "POST" and idempotency and memo in self.idempotent:
                return self.idempotent[memo]
            answer = (200, self._route(method, path, params, headers))
            if method == "POST" and idempotency:
                self.idempotent[memo] = answer
            return answer

    def _route(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        if parts[0] != "v1":
            raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")
        parts = parts[1:]
        if method == "POST" and parts == ["customers"]:
            return self._create_customer(params)
        if method == "POST" and parts == ["checkout", "sessions"]:
            return self._create_checkout(params)
        if method == "POST" and parts == ["billing_portal", "sessions"]:
            return self._create_portal(params)
        if method == "POST" and parts == ["accounts"]:
            return self._create_account(params)
        if method == "POST" and parts == ["account_links"]:
            return self._create_account_link(params)
        if (
            method == "POST"
            and len(parts) == 3
            and parts[0] == "accounts"
            and parts[2] == "login_links"
        ):
            account = self._get("account", parts[1])
            return {
                "object": "login_link",
                "created": self.now(),
                "url": f"{self.url}/express/{account['id']}/{secrets.token_hex(6)}",
            }
        if method == "GET" and len(parts) == 2:
            kinds = {
                "customers": "customer",
                "subscriptions": "subscription",
                "accounts": "account",
                "invoices": "invoice",
            }
            if parts[0] in kinds:
                return self._get(kinds[parts[0]], parts[1])
        if method == "GET" and len(parts) == 3 and parts[:2] == ["checkout", "sessions"]:
            return self._get("checkout.session", parts[2])
        raise StripeError(404, f"Unrecognized request URL ({method}: /{'/'.join(['v1', *parts])}).")

    def _get(self, kind: str, object_id: str) -> dict[str, Any]:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise missing(kind, object_id)
        return obj

    # ── API objects ───────────────────────────────────────────────────────────────────────

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer: dict[str, Any] = {
            "id": self.new_id("cus"),
            "object": "customer",
            "created": self.now(),
            "email": params.get("email"),
            "name": params.get("name"),
            "metadata": params.get("metadata") or {},
            "livemode": False,
        }
        self.objects[customer["id"]] = customer
        return customer

    def _create_checkout(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode")
        if mode not in ("subscription", "payment", "setup"):
            raise StripeError(
                400, "Invalid mode: must be one of payment, setup, or subscription", param="mode"
            )
        for required in ("success_url",):
            if not params.get(required):
                raise StripeError(
                    400,
                    f"Missing required param: {required}.",
                    param=required,
                    code="parameter_missing",
                )
        items = params.get("line_items") or []
        if not isinstance(items, list) or not items:
            raise StripeError(
                400,
                "Missing required param: line_items.",
                param="line_items",
                code="parameter_missing",
            )
        customer = params.get("customer")
        if customer:
            self._get("customer", customer)
        session_id = self.new_id("cs_test")
        amount = 0
        for item in items:
            data = item.get("price_data") or {}
            amount += int(data.get("unit_amount") or 0) * int(item.get("quantity") or 1)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.url}/c/pay/{session_id}",
            "customer": customer,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "subscription": None,
            "payment_intent": None,
            "amount_total": amount,
            "currency": ((items[0].get("price_data") or {}).get("currency")),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "created": self.now(),
            "expires_at": self.now() + DAY,
            "livemode": False,
        }
        self.objects[session_id] = session
        self.private[session_id] = {
            "line_items": items,
            "subscription_data": params.get("subscription_data") or {},
            "payment_intent_data": params.get("payment_intent_data") or {},
        }
        return session

    def _create_portal(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = params.get("customer")
        if not customer:
            raise StripeError(
                400, "Missing required param: customer.", param="customer", code="parameter_missing"
            )
        self._get("customer", customer)
        return {
            "id": self.new_id("bps"),
            "object": "billing_portal.session",
            "customer": customer,
            "return_url": params.get("return_url"),
            "created": self.now(),
            "url": f"{self.url}/p/session/{secrets.token_hex(8)}",
            "livemode": False,
        }

    def _create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        account = {
            "id": self.new_id("acct"),
            "object": "account",
            "type": params.get("type", "express"),
            "country": params.get("country") or "BR",
            "email": params.get("email"),
            "metadata": params.get("metadata") or {},
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "created": self.now(),
        }
        self.objects[account["id"]] = account
        return account

    def _create_account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        for required in ("account", "type"):
            if not params.get(required):
                raise StripeError(
                    400,
                    f"Missing required param: {required}.",
                    param=required,
                    code="parameter_missing",
                )
        account = self._get("account", params["account"])
        return {
            "object": "account_link",
            "created": self.now(),
            "expires_at": self.now() + 300,
            "url": f"{self.url}/setup/e/{account['id']}/{secrets.token_hex(6)}",
        }

    # ── what Stripe does on its own: checkouts completing, renewals, cancellations ─────────

    def _event(
        self,
        type_: str,
        obj: dict[str, Any],
        account: str | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "type": type_,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": json.loads(json.dumps(obj))},
        }
        if previous:
            event["data"]["previous_attributes"] = previous
        if account:
            event["account"] = account
        self.events.append(event)
        return event

    def _price_interval(self, price_id: str) -> str:
        return "year" if "year" in price_id else "month"

    def _invoice(self, subscription: dict[str, Any], paid: bool, amount: int) -> dict[str, Any]:
        item = subscription["items"]["data"][0]
        invoice = {
            "id": self.new_id("in"),
            "object": "invoice",
            "customer": subscription["customer"],
            "status": "paid" if paid else "open",
            "amount_due": amount,
            "amount_paid": amount if paid else 0,
            "attempt_count": 1,
            "period_start": item["current_period_start"],
            "period_end": item["current_period_end"],
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": subscription["id"],
                    "metadata": subscription["metadata"],
                },
            },
            "created": self.now(),
        }
        self.objects[invoice["id"]] = invoice
        subscription["latest_invoice"] = invoice["id"]
        return invoice

    def complete_checkout(self, session_id: str, deliver: bool = True) -> list[dict[str, Any]]:
        """The customer finished the hosted checkout: the subscription (with its trial) or the
        payment exists, and Stripe's events for it are made (and delivered, by default)."""
        with self.lock:
            session = self._get("checkout.session", session_id)
            if session["status"] != "open":
                raise StripeError(400, "This Checkout Session is no longer open.")
            extra = self.private[session_id]
            events = []
            if session["mode"] == "subscription":
                data = extra["subscription_data"]
                price = extra["line_items"][0]["price"]
                interval = self._price_interval(price)
                now = self.now()
                trial_days = int(data.get("trial_period_days") or 0)
                end = now + (trial_days * DAY if trial_days else PERIOD[interval])
                subscription = {
                    "id": self.new_id("sub"),
                    "object": "subscription",
                    "customer": session["customer"],
                    "status": "trialing" if trial_days else "active",
                    "metadata": data.get("metadata") or {},
                    "items": {
                        "object": "list",
                        "data": [
                            {
                                "id": self.new_id("si"),
                                "object": "subscription_item",
                                "price": {
                                    "id": price,
                                    "object": "price",
                                    "recurring": {"interval": interval},
                                },
                                "quantity": 1,
                                "current_period_start": now,
                                "current_period_end": end,
                            }
                        ],
                    },
                    "trial_start": now if trial_days else None,
                    "trial_end": end if trial_days else None,
                    "cancel_at_period_end": False,
                    "canceled_at": None,
                    "ended_at": None,
                    "created": now,
                    "start_date": now,
                    "latest_invoice": None,
                }
                self.objects[subscription["id"]] = subscription
                invoice = self._invoice(subscription, paid=True, amount=0 if trial_days else 9900)
                session.update(
                    status="complete",
                    subscription=subscription["id"],
                    payment_status="no_payment_required" if trial_days else "paid",
                )
                events.append(self._event("customer.subscription.created", subscription))
                events.append(self._event("invoice.paid", invoice))
                events.append(self._event("checkout.session.completed", session))
            else:
                intent = self.new_id("pi")
                session.update(status="complete", payment_status="paid", payment_intent=intent)
                events.append(self._event("checkout.session.completed", session))
        if deliver:
            self.deliver(events)
        return events

    def expire_checkout(self, session_id: str, deliver: bool = True) -> list[dict[str, Any]]:
        """An open Checkout Session reached its expires_at unpaid: checkout.session.expired."""
        with self.lock:
            session = self._get("checkout.session", session_id)
            if session["status"] != "open":
                raise StripeError(400, "This Checkout Session is no longer open.")
            session["status"] = "expired"
            events = [self._event("checkout.session.expired", session)]
        if deliver:
            self.deliver(events)
        return events

    def subscription_action(
        self, subscription_id: str, action: str, deliver: bool = True, price: str | None = None
    ) -> list[dict[str, Any]]:
        """What happens to a subscription over time: `end_trial` (first payment succeeds),
        `renew`, `fail_payment` (a renewal fails: past_due), `pay` (the retry succeeds),
        `cancel_at_period_end`, `cancel` (ends now), `change_price`, `trial_will_end`."""
        with self.lock:
            sub = self._get("subscription", subscription_id)
            item = sub["items"]["data"][0]
            interval = self._price_interval(item["price"]["id"])
            previous = {"status": sub["status"]}
            events = []

            def roll() -> None:
                now = self.now()
                item["current_period_start"] = now
                item["current_period_end"] = now + PERIOD[interval]

            if action in ("end_trial", "renew"):
                roll()
                sub["status"] = "active"
                events.append(self._event("invoice.paid", self._invoice(sub, True, 9900)))
                events.append(self._event("customer.subscription.updated", sub, previous=previous))
            elif action == "fail_payment":
                roll()
                sub["status"] = "past_due"
                invoice = self._invoice(sub, False, 9900)
                events.append(self._event("invoice.payment_failed", invoice))
                events.append(self._event("customer.subscription.updated", sub, previous=previous))
            elif action == "pay":
                sub["status"] = "active"
                invoice = self.objects[sub["latest_invoice"]]
                invoice.update(status="paid", amount_paid=invoice["amount_due"])
                events.append(self._event("invoice.paid", invoice))
                events.append(self._event("customer.subscription.updated", sub, previous=previous))
            elif action == "cancel_at_period_end":
                sub["cancel_at_period_end"] = True
                events.append(
                    self._event(
                        "customer.subscription.updated",
                        sub,
                        previous={"cancel_at_period_end": False},
                    )
                )
            elif action == "cancel":
                now = self.now()
                sub.update(status="canceled", canceled_at=now, ended_at=now)
                events.append(self._event("customer.subscription.deleted", sub, previous=previous))
            elif action == "change_price":
                assert price, "change_price needs a price"
                item["price"] = {
                    "id": price,
                    "object": "price",
                    "recurring": {"interval": self._price_interval(price)},
                }
                events.append(self._event("customer.subscription.updated", sub))
            elif action == "trial_will_end":
                events.append(self._event("customer.subscription.trial_will_end", sub))
            else:
                raise ValueError(f"unknown action {action}")
        if deliver:
            self.deliver(events)
        return events

    def complete_onboarding(self, account_id: str, deliver: bool = True) -> list[dict[str, Any]]:
        """The workspace finished Stripe's hosted onboarding: account.updated (a Connect event,
        carrying `account`)."""
        with self.lock:
            account = self._get("account", account_id)
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
            events = [
                self._event(
                    "account.updated",
                    account,
                    account=account_id,
                    previous={"details_submitted": False},
                )
            ]
        if deliver:
            self.deliver(events)
        return events

    # ── webhooks ──────────────────────────────────────────────────────────────────────────

    def signed(
        self, event: dict[str, Any], secret: str | None = None, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would POST for this event."""
        payload = json.dumps(event, indent=2).encode()
        return payload, {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(payload, secret or self.webhook_secret, timestamp),
        }

    def deliver(self, events: list[dict[str, Any]]) -> list[int]:
        """POSTs each event to the webhook URL, in order; returns the statuses (none when no
        URL is configured: the events stay in `self.events`)."""
        if not self.webhook_url:
            return []
        statuses = []
        with httpx.Client(timeout=10) as client:
            for event in events:
                payload, headers = self.signed(event)
                status = client.post(self.webhook_url, content=payload, headers=headers).status_code
                statuses.append(status)
                with self.lock:
                    self.deliveries.append((event["id"], status))
        return statuses

    def _pay_page(self, request: BaseHTTPRequestHandler, session_id: str) -> None:
        """The hosted checkout page: opening it pays, then redirects back like Stripe."""
        try:
            self.complete_checkout(session_id)
            session = self.objects[session_id]
            status, location = 303, str(session.get("success_url") or "/")
            location = location.replace("{CHECKOUT_SESSION_ID}", session_id)
        except StripeError as error:
            status, location = error.status, ""
        request.send_response(status)
        if location:
            request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]


def main() -> None:
    parser = argparse.ArgumentParser(description="A local Stripe for hand-driven runs.")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-secret", default=DEV_WEBHOOK_SECRET)
    parser.add_argument("--webhook-url", default="http://127.0.0.1:8000/v1/webhooks/stripe")
    args = parser.parse_args()
    fake = StripeFake(args.port, args.webhook_secret, args.webhook_url).start()
    print(f"fake Stripe on {fake.url}; webhooks to {args.webhook_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
