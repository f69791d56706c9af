"""AdminTenants: the staff's view of every workspace and its lifecycle actions."""

from __future__ import annotations

import grpc

from plixa.backoffice.v1 import tenants_pb2, tenants_pb2_grpc
from services.backoffice.clients.billing import BillingClient
from services.backoffice.clients.identity import IdentityClient
from services.backoffice.clients.inbox import InboxClient, InboxUsage
from services.backoffice.domain import tenants
from services.backoffice.store.tenant_directory import DirectoryTenant, TenantFilter
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import optional, to_proto


def tenant_to_proto(tenant: DirectoryTenant, inbox: InboxUsage | None) -> tenants_pb2.Tenant:
    usage = tenants_pb2.TenantUsage(members=tenant.members)
    if inbox is not None:
        usage.whatsapp_numbers = inbox.whatsapp_numbers
        usage.conversations_this_month = inbox.conversations_this_month
        usage.messages_this_month = inbox.messages_this_month
    return to_proto(tenant, tenants_pb2.Tenant, id=tenant.tenant_id, usage=usage)


class AdminTenantsApi(tenants_pb2_grpc.AdminTenantsServicer):
    def __init__(
        self, db: Database, identity: IdentityClient, billing: BillingClient, inbox: InboxClient
    ) -> None:
        self.db = db
        self.identity = identity
        self.billing = billing
        self.inbox = inbox

    async def _with_usage(self, tenant: DirectoryTenant) -> tenants_pb2.Tenant:
        return tenant_to_proto(tenant, await self.inbox.usage(tenant.tenant_id))

    async def ListTenants(
        self, request: tenants_pb2.ListTenantsRequest, context: grpc.aio.ServicerContext
    ) -> tenants_pb2.ListTenantsResponse:
        where = TenantFilter(
            status=optional(request, "status"),
            plan=optional(request, "plan"),
            q=(optional(request, "q") or "").strip() or None,
        )
        async with self.db.reader() as uow:
            page = await tenants.list_page(uow, where, PageQuery.from_proto(request.page))
        usage = await self.inbox.usage_of([t.tenant_id for t in page.items])
        return tenants_pb2.ListTenantsResponse(
            items=[tenant_to_proto(t, usage.get(t.tenant_id)) for t in page.items],
            meta=page.meta(),
        )

    async def GetTenant(
        self, request: tenants_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> tenants_pb2.Tenant:
        async with self.db.reader() as uow:
            tenant = await tenants.get(uow, request.id)
        return await self._with_usage(tenant)

    async def SuspendTenant(
        self, request: tenants_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> tenants_pb2.Tenant:
        tenant = await tenants.set_status(self.db, self.identity, request.id, "suspended")
        return await self._with_usage(tenant)

    async def ReactivateTenant(
        self, request: tenants_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> tenants_pb2.Tenant:
        tenant = await tenants.set_status(self.db, self.identity, request.id, "active")
        return await self._with_usage(tenant)

    async def ImpersonateTenant(
        self, request: tenants_pb2.ImpersonateRequest, context: grpc.aio.ServicerContext
    ) -> tenants_pb2.Impersonation:
        issued = await tenants.impersonate(self.db, self.identity, request.id, request.user_id)
        return to_proto(issued, tenants_pb2.Impersonation)

    async def GrantLicense(
        self, request: tenants_pb2.GrantLicenseRequest, context: grpc.aio.ServicerContext
    ) -> tenants_pb2.TenantLicense:
        granted = await tenants.grant_license(
            self.db, self.billing, request.id, request.plan_key, request.expires_in_months
        )
        return to_proto(granted, tenants_pb2.TenantLicense)

    async def RevokeLicense(
        self, request: tenants_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> tenants_pb2.TenantLicense:
        revoked = await tenants.revoke_license(self.db, self.billing, request.id)
        return to_proto(revoked, tenants_pb2.TenantLicense)
