"""Helpers of billing's end-to-end tests: the stack's Stripe fake, signed deliveries to the
webhook, billing's internal RPCs called as another service, and polling."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import httpx
from google.protobuf.message import Message

from scripts.mesh import Stack
from services.kit.client import ServiceClient
from services.kit.config import internal_secret
from services.kit.principal import service_principal
from tests.conftest import bearer, register, sql
from tests.fakes.stripe import StripeFake
from tests.waiting import wait_until

T = TypeVar("T")
M = TypeVar("M", bound=Message)
WEBHOOK = "/v1/webhooks/stripe"


def fake(stack: Stack) -> StripeFake:
    assert stack.stripe is not None, "the test stack runs billing against the local Stripe fake"
    return stack.stripe


def owner(api: httpx.Client) -> tuple[str, int]:
    """A new workspace: (owner token, tenant id)."""
    data = register(api)
    return data["token"], int(data["tenant"]["id"])


def subscription(api: httpx.Client, token: str) -> dict[str, Any]:
    response = api.get("/v1/billing/subscription", headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def wait_for_subscription(
    api: httpx.Client, token: str, what: str, **expected: Any
) -> dict[str, Any]:
    def matches() -> dict[str, Any] | None:
        current = subscription(api, token)
        return current if all(current.get(k) == v for k, v in expected.items()) else None

    return wait_until(matches, f"subscription {what} {expected}")


def checkout(
    api: httpx.Client,
    token: str,
    plan: str = "professional",
    interval: str = "month",
    stack: Stack | None = None,
) -> str:
    """Starts a checkout; returns the Checkout Session id (from the hosted URL)."""
    response = api.post(
        "/v1/billing/checkout", json={"plan": plan, "interval": interval}, headers=bearer(token)
    )
    problems = log_problems(stack, "gateway", "billing") if stack else ""
    assert response.status_code == 200, f"{response.text}\n{problems}"
    data = response.json()["data"]
    assert data["plan"] == plan and data["interval"] == interval
    return str(data["url"]).rsplit("/", 1)[-1]


def subscribe(
    stack: Stack, api: httpx.Client, token: str, plan: str = "professional", interval: str = "month"
) -> str:
    """Checkout completed and delivered; waits until the plan applies. Returns the sub_ id."""
    session_id = checkout(api, token, plan, interval)
    events = fake(stack).complete_checkout(session_id)
    wait_for_subscription(api, token, "after checkout", plan=plan)
    tenant_id = int(events[0]["data"]["object"]["metadata"]["tenant_id"])
    wait_for_access_change(stack, tenant_id, plan)
    return str(events[0]["data"]["object"]["id"])


def wait_for_access_change(stack: Stack, tenant_id: int, plan: str) -> None:
    """Billing's view changes first; access follows by events: identity stores the plan, then
    its identity.access.changed drops the gateway's cached principals. Waits for both steps
    (the gateway hears the published event a moment later, so a gated call may still poll)."""
    stored = "SELECT 1 FROM identity.entitlements WHERE tenant_id = $1 AND plan = $2"
    wait_until(lambda: sql(stack, stored, tenant_id, plan) or None, f"identity stores {plan}")
    published = (
        "SELECT 1 FROM identity.outbox WHERE subject = 'identity.access.changed'"
        " AND tenant_id = $1 AND published_at IS NOT NULL"
    )
    wait_until(lambda: sql(stack, published, tenant_id) or None, "identity.access.changed sent")


def deliver(
    api: httpx.Client, stack: Stack, event: dict[str, Any], **signing: Any
) -> httpx.Response:
    payload, headers = fake(stack).signed(event, **signing)
    return api.post(WEBHOOK, content=payload, headers=headers)


def call_internal(stack: Stack, method: str, request: Message, response_class: type[M]) -> M:
    """An internal RPC of billing, called as another Plixa service would (signed principal)."""

    async def run() -> M:
        client = ServiceClient(
            internal_secret(), lambda service: f"127.0.0.1:{stack.ports[service]}"
        )
        try:
            return await client.call(
                "billing",
                method,
                request,
                response_class,
                principal=service_principal("backoffice"),
            )
        finally:
            await client.close()

    return asyncio.run(run())


def log_problems(stack: Stack, *processes: str) -> str:
    """The warning and error lines the processes logged (for an assertion's message)."""
    lines = []
    for name in processes:
        path = stack.workdir / f"{name}.log"
        if path.exists():
            lines += [
                f"{name}: {line[:1500]}"
                for line in path.read_text(errors="replace").splitlines()
                if '"level": "error"' in line
                or '"level": "critical"' in line
                or ('"level": "warning"' in line and "is unset" not in line)
            ]
    return "\n".join(lines[-30:])
