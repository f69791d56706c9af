"""Staff licences through billing's internal RPCs, and usage figures from inbox's. The staff
routes are checked everywhere; the round trip runs through billing (a professional-only route
opens within 10 s of the grant and closes after the revocation)."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from gateway.discovery import discover_routes
from tests.conftest import PLAN_FEATURES, bearer, errors_of, register
from tests.test_backoffice_tenants import audit, in_directory, staff  # noqa: F401
from tests.waiting import PATIENCE_SECONDS


def grant(api: httpx.Client, token: str, tenant_id: int, **body: Any) -> httpx.Response:
    payload = {"plan_key": "professional", "expires_in_months": 3, **body}
    return api.post(f"/v1/admin/tenants/{tenant_id}/license", headers=bearer(token), json=payload)


def test_license_input_is_checked_and_unknown_workspaces_are_404(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    token = staff["token"]
    owner = register(api)
    tenant_id = owner["tenant"]["id"]
    in_directory(api, token, tenant_id)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"plan_key": "starter"}, "plan_key"),
        ({"plan_key": "gold"}, "plan_key"),
        ({"expires_in_months": 0}, "expires_in_months"),
        ({"expires_in_months": 37}, "expires_in_months"),
    ]
    for body, field in cases:
        response = grant(api, token, tenant_id, **body)
        assert response.status_code == 422, response.text
        assert errors_of(response)[0]["field"] == field
    assert grant(api, token, 987654321).status_code in (404, 503)
    revoked = api.delete("/v1/admin/tenants/987654321/license", headers=bearer(token))
    assert revoked.status_code in (404, 503)
    member = grant(api, owner["token"], tenant_id)
    assert member.status_code == 403


def feature_refused(response: httpx.Response) -> bool:
    return response.status_code == 403 and errors_of(response)[0]["code"] != "FORBIDDEN"


def professional_route(api: httpx.Client, token: str) -> tuple[str, str] | None:
    """A route gated on a feature professional includes that this workspace's plan lacks (the
    verb and path; a body of {} is refused by the plan check before it is read)."""
    for route in discover_routes():
        feature = route.rule.feature
        if not feature or feature not in PLAN_FEATURES["professional"]:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.template)
        response = api.request(route.verb, path, headers=bearer(token), json={})
        if feature_refused(response):
            return route.verb, path
    return None


def test_a_granted_professional_licence_opens_its_routes_and_revocation_closes_them(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    token = staff["token"]
    owner = register(api)
    tenant_id = owner["tenant"]["id"]
    in_directory(api, token, tenant_id)
    found = professional_route(api, owner["token"])
    assert found, "no professional-only route is closed to a new workspace"
    verb, path = found

    def refused() -> bool:
        return feature_refused(api.request(verb, path, headers=bearer(owner["token"]), json={}))

    granted = grant(api, token, tenant_id)
    assert granted.status_code == 200, granted.text
    assert granted.json()["data"]["plan_key"] == "professional"
    assert granted.json()["data"]["granted_by_staff_id"] == staff["id"]
    deadline = time.monotonic() + PATIENCE_SECONDS
    while refused():
        assert time.monotonic() < deadline, f"{verb} {path} still closed after the grant"
        time.sleep(0.2)

    revoked = api.delete(f"/v1/admin/tenants/{tenant_id}/license", headers=bearer(token))
    assert revoked.status_code == 200 and revoked.json()["data"]["status"] == "revoked"
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not refused():
        assert time.monotonic() < deadline, f"{verb} {path} still open after the revocation"
        time.sleep(0.2)
    again = api.delete(f"/v1/admin/tenants/{tenant_id}/license", headers=bearer(token))
    assert again.status_code == 404 and errors_of(again)[0]["code"] == "NO_ACTIVE_LICENSE"
    actions = [e["action"] for e in audit(api, token, tenant_id=tenant_id)]
    assert actions == ["tenant.license_revoked", "tenant.license_granted"]
