"""Identity's internal RPCs the staff console uses: a workspace's status and impersonation."""

from __future__ import annotations

from plixa.identity.v1 import internal_pb2
from services.kit.client import ServiceClient
from services.kit.principal import service_principal

SET_TENANT_STATUS = "/plixa.identity.v1.IdentityInternal/SetTenantStatus"
ISSUE_IMPERSONATION = "/plixa.identity.v1.IdentityInternal/IssueImpersonationToken"


class IdentityClient:
    def __init__(self, secret: bytes, timeout: float = 5.0) -> None:
        self.client = ServiceClient(secret, timeout=timeout)

    async def set_tenant_status(
        self, tenant_id: int, status: str, staff_id: int
    ) -> internal_pb2.TenantStatus:
        return await self.client.call(
            "identity",
            SET_TENANT_STATUS,
            internal_pb2.SetTenantStatusRequest(
                tenant_id=tenant_id, status=status, staff_id=staff_id
            ),
            internal_pb2.TenantStatus,
            principal=service_principal("backoffice"),
        )

    async def impersonate(
        self, staff_id: int, tenant_id: int, user_id: int
    ) -> internal_pb2.ImpersonationToken:
        return await self.client.call(
            "identity",
            ISSUE_IMPERSONATION,
            internal_pb2.IssueImpersonationTokenRequest(
                staff_id=staff_id, tenant_id=tenant_id, user_id=user_id
            ),
            internal_pb2.ImpersonationToken,
            principal=service_principal("backoffice"),
        )
