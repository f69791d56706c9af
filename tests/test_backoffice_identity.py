"""Identity's internal RPCs for the backoffice, called as the backoffice calls them (a signed
service principal over gRPC), and what members then see through the gateway: suspension is
refused at once even with a cached principal, reactivation opens again, and an impersonation
token acts as the member for 30 minutes but never reaches staff or credential routes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest
from google.protobuf.message import Message

from plixa.identity.v1 import internal_pb2
from scripts.mesh import Stack
from services.kit.client import ServiceClient
from services.kit.config import DEV_INTERNAL_SECRET
from services.kit.errors import DomainError
from services.kit.principal import service_principal
from tests.conftest import bearer, errors_of, register, sql, wait_for_status
from tests.test_staff import new_staff

R = TypeVar("R", bound=Message)
SET_STATUS = "/plixa.identity.v1.IdentityInternal/SetTenantStatus"
IMPERSONATE = "/plixa.identity.v1.IdentityInternal/IssueImpersonationToken"


def call_identity(stack: Stack, method: str, request: Message, response: type[R]) -> R:
    async def run() -> R:
        client = ServiceClient(
            DEV_INTERNAL_SECRET.encode(), lambda s: f"127.0.0.1:{stack.ports[s]}"
        )
        try:
            return await client.call(
                "identity", method, request, response, principal=service_principal("backoffice")
            )
        finally:
            await client.close()

    return asyncio.run(run())


def set_status(stack: Stack, tenant_id: int, status: str) -> internal_pb2.TenantStatus:
    request = internal_pb2.SetTenantStatusRequest(tenant_id=tenant_id, status=status, staff_id=1)
    return call_identity(stack, SET_STATUS, request, internal_pb2.TenantStatus)


def test_suspension_is_refused_at_once_and_reactivation_reopens(
    api: httpx.Client, stack: Stack
) -> None:
    owner = register(api)
    token, tenant_id = owner["token"], owner["tenant"]["id"]
    assert api.get("/v1/team/members", headers=bearer(token)).status_code == 200  # now cached

    change = set_status(stack, tenant_id, "suspended")
    assert (change.status, change.previous_status) == ("suspended", "active")
    # The gateway learns it from identity.access.changed (it did not carry this call).
    refused = wait_for_status(api, "/v1/team/members", token, 403)
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "TENANT_SUSPENDED"
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200  # allowed when suspended
    assert sql(stack, "SELECT status FROM identity.tenants WHERE id = $1", tenant_id)[0][0] == (
        "suspended"
    )
    again = set_status(stack, tenant_id, "suspended")  # idempotent
    assert (again.status, again.previous_status) == ("suspended", "suspended")

    set_status(stack, tenant_id, "active")
    assert wait_for_status(api, "/v1/team/members", token, 200).status_code == 200


def test_set_status_refuses_unknown_workspaces_and_statuses(stack: Stack) -> None:
    with pytest.raises(DomainError) as missing:
        set_status(stack, 987654321, "suspended")
    assert missing.value.code == "NOT_FOUND"
    with pytest.raises(DomainError) as bad:
        set_status(stack, 1, "deleted")
    assert bad.value.code == "VALIDATION_FAILED" and bad.value.fields[0].field == "status"


@pytest.fixture(scope="module")
def staff_id(stack: Stack) -> int:
    email = new_staff(stack)
    return int(sql(stack, "SELECT id FROM identity.staff WHERE email = $1", email)[0][0])


def impersonate(
    stack: Stack, tenant_id: int, user_id: int, staff_id: int
) -> internal_pb2.ImpersonationToken:
    request = internal_pb2.IssueImpersonationTokenRequest(
        staff_id=staff_id, tenant_id=tenant_id, user_id=user_id
    )
    return call_identity(stack, IMPERSONATE, request, internal_pb2.ImpersonationToken)


def test_an_impersonation_token_acts_as_the_member_within_limits(
    api: httpx.Client, stack: Stack, staff_id: int
) -> None:
    owner = register(api)
    issued = impersonate(stack, owner["tenant"]["id"], owner["user"]["id"], staff_id)
    lifetime = issued.expires_at.ToDatetime(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(minutes=29) < lifetime <= timedelta(minutes=30)
    headers = bearer(issued.token)

    me = api.get("/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["data"]["user"]["id"] == owner["user"]["id"]
    assert api.get("/v1/team/members", headers=headers).status_code == 200
    for verb, path in [
        ("POST", "/v1/me/2fa/setup"),
        ("POST", "/v1/api-tokens"),
        ("PUT", "/v1/security-config"),
        ("POST", "/v1/account/deletion"),
        ("GET", "/v1/admin/me"),
    ]:
        refused = api.request(verb, path, headers=headers, json={})
        assert refused.status_code == 403, (path, refused.text)
        assert errors_of(refused)[0]["code"] == "IMPERSONATION_FORBIDDEN", path
    rows = sql(
        stack,
        "SELECT kind, staff_id, user_id, expires_at FROM identity.tokens WHERE id = $1",
        issued.token_id,
    )
    assert (rows[0]["kind"], rows[0]["staff_id"], rows[0]["user_id"]) == (
        "impersonation",
        staff_id,
        owner["user"]["id"],
    )


def test_an_expired_impersonation_token_is_refused(
    api: httpx.Client, stack: Stack, staff_id: int
) -> None:
    owner = register(api)
    issued = impersonate(stack, owner["tenant"]["id"], owner["user"]["id"], staff_id)
    sql(
        stack,
        "UPDATE identity.tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
        issued.token_id,
    )
    assert api.get("/v1/me", headers=bearer(issued.token)).status_code == 401


def test_impersonation_names_a_member_of_that_workspace_and_a_staff_member(
    api: httpx.Client, stack: Stack, staff_id: int
) -> None:
    first, second = register(api), register(api)
    with pytest.raises(DomainError) as other:
        impersonate(stack, first["tenant"]["id"], second["user"]["id"], staff_id)
    assert other.value.code == "NOT_FOUND"
    with pytest.raises(DomainError) as nobody:
        impersonate(stack, first["tenant"]["id"], first["user"]["id"], 987654321)
    assert nobody.value.code == "VALIDATION_FAILED"
