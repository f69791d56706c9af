"""Staff licences through billing's internal RPCs (what the backoffice's license routes call):
a licence overrides the subscription, is revoked or expires (a scheduled task), and every change
reaches identity's principal like any other."""

from __future__ import annotations

import grpc
import httpx
import pytest

from plixa.billing.v1 import billing_pb2, internal_pb2
from scripts.mesh import Stack
from services.kit.errors import DomainError
from tests.billing_support import (
    call_internal,
    owner,
    subscribe,
    subscription,
    wait_for_subscription,
    wait_until,
)
from tests.conftest import bearer, sql

GRANT = "/plixa.billing.v1.BillingInternal/GrantLicense"
REVOKE = "/plixa.billing.v1.BillingInternal/RevokeLicense"
GET = "/plixa.billing.v1.BillingInternal/GetSubscription"


def grant(stack: Stack, tenant_id: int, plan: str, months: int = 1) -> internal_pb2.License:
    request = internal_pb2.GrantLicenseRequest(
        tenant_id=tenant_id, plan_key=plan, expires_in_months=months, staff_id=7
    )
    return call_internal(stack, GRANT, request, internal_pb2.License)


def can_create_api_tokens(api: httpx.Client, token: str) -> bool:
    response = api.post("/v1/api-tokens", json={"name": "probe"}, headers=bearer(token))
    assert response.status_code in (201, 403), response.text
    return response.status_code == 201


def test_a_licence_overrides_and_is_revoked(api: httpx.Client, stack: Stack) -> None:
    token, tenant_id = owner(api)
    assert not can_create_api_tokens(api, token)
    license = grant(stack, tenant_id, "business", months=3)
    assert license.plan_key == "business" and license.status == "active"
    assert license.granted_by_staff_id == 7
    assert 89 <= (license.expires_at.seconds - license.starts_at.seconds) / 86400 <= 92
    now = wait_for_subscription(api, token, "licensed", status="licensed")
    assert now["plan"] == "business" and now["license_expires_at"] is not None
    wait_until(lambda: can_create_api_tokens(api, token), "API tokens allowed by the licence")
    internal = call_internal(
        stack,
        GET,
        internal_pb2.GetSubscriptionRequest(tenant_id=tenant_id),
        billing_pb2.Subscription,
    )
    assert internal.plan == "business" and internal.status == "licensed"

    revoked = call_internal(
        stack,
        REVOKE,
        internal_pb2.RevokeLicenseRequest(tenant_id=tenant_id, staff_id=8),
        internal_pb2.License,
    )
    assert revoked.status == "revoked" and revoked.HasField("revoked_at")
    wait_for_subscription(api, token, "after revoking", plan="starter", status="none")
    wait_until(lambda: not can_create_api_tokens(api, token), "API tokens refused again")
    with pytest.raises(DomainError) as nothing_left:
        call_internal(
            stack,
            REVOKE,
            internal_pb2.RevokeLicenseRequest(tenant_id=tenant_id, staff_id=8),
            internal_pb2.License,
        )
    assert nothing_left.value.code == "NO_ACTIVE_LICENSE"
    assert nothing_left.value.grpc_status == grpc.StatusCode.NOT_FOUND


def test_a_licence_expires_back_to_the_subscription(api: httpx.Client, stack: Stack) -> None:
    token, tenant_id = owner(api)
    subscribe(stack, api, token, "professional")
    grant(stack, tenant_id, "business")
    wait_for_subscription(api, token, "licensed", plan="business", status="licensed")
    # A month passes (simulated): the scheduled task applies the expiry and announces it.
    sql(stack, "UPDATE billing.licenses SET expires_at = now() WHERE tenant_id = $1", tenant_id)
    sql(stack, "UPDATE billing.entitlements SET review_at = now() WHERE tenant_id = $1", tenant_id)
    back = wait_for_subscription(api, token, "expired", plan="professional", status="trialing")
    assert back["license_expires_at"] is None
    replica = wait_until(
        lambda: sql(
            stack,
            "SELECT plan FROM identity.entitlements WHERE tenant_id = $1 AND plan = 'professional'",
            tenant_id,
        ),
        "identity's replica back on professional",
    )
    assert replica
    assert subscription(api, token)["subscribed_plan"] == "professional"


def test_licence_input_is_checked(stack: Stack) -> None:
    for plan, months, field in (
        ("gold", 1, "plan_key"),
        ("business", 0, "expires_in_months"),
        ("business", 37, "expires_in_months"),
    ):
        with pytest.raises(DomainError) as refused:
            grant(stack, 1, plan, months)
        assert refused.value.code == "VALIDATION_FAILED"
        assert refused.value.fields[0].field == field
