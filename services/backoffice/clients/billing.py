"""Billing's internal RPCs for staff licences (plixa.billing.v1.BillingInternal)."""

from __future__ import annotations

from typing import Any

import grpc

from services.backoffice.clients.contracts import required
from services.kit.client import ServiceClient, ServiceUnavailable, Unimplemented
from services.kit.principal import service_principal

CONTRACT = "plixa.billing.v1.internal_pb2"
GRANT = "/plixa.billing.v1.BillingInternal/GrantLicense"
REVOKE = "/plixa.billing.v1.BillingInternal/RevokeLicense"
# Billing's answer to a revocation when the workspace has no active licence (404), passed on.
NO_ACTIVE_LICENSE = "NO_ACTIVE_LICENSE"


class BillingClient:
    def __init__(self, secret: bytes, timeout: float = 5.0) -> None:
        self.client = ServiceClient(secret, timeout=timeout)

    async def _call(self, method: str, request: Any, tenant_id: int) -> Any:
        messages = required(CONTRACT, "billing")
        try:
            return await self.client.call(
                "billing",
                method,
                request(messages),
                messages.License,
                principal=service_principal("backoffice", tenant_id),
            )
        except Unimplemented:
            raise ServiceUnavailable("billing", grpc.StatusCode.UNIMPLEMENTED) from None

    async def grant(self, tenant_id: int, plan_key: str, months: int, staff_id: int) -> Any:
        return await self._call(
            GRANT,
            lambda m: m.GrantLicenseRequest(
                tenant_id=tenant_id,
                plan_key=plan_key,
                expires_in_months=months,
                staff_id=staff_id,
            ),
            tenant_id,
        )

    async def revoke(self, tenant_id: int, staff_id: int) -> Any:
        return await self._call(
            REVOKE,
            lambda m: m.RevokeLicenseRequest(tenant_id=tenant_id, staff_id=staff_id),
            tenant_id,
        )
