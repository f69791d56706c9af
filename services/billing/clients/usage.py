"""What a workspace uses against its plan's limits, asked of the services that know it: members
from identity (CountMembers), numbers, conversations and messages this month from inbox
(GetUsage). Usage is decoration: a service that is away or slow leaves its figures null, and the
subscription is answered all the same."""

from __future__ import annotations

import asyncio
import logging

from plixa.billing.v1 import billing_pb2
from plixa.identity.v1 import internal_pb2 as identity_internal
from plixa.inbox.v1 import internal_pb2 as inbox_internal
from services.kit.client import ServiceClient
from services.kit.principal import service_principal

log = logging.getLogger("plixa.billing.usage")
COUNT_MEMBERS = "/plixa.identity.v1.IdentityInternal/CountMembers"
GET_USAGE = "/plixa.inbox.v1.InboxInternal/GetUsage"


class UsageClient:
    def __init__(self, secret: bytes, timeout: float = 1.0) -> None:
        self.client = ServiceClient(secret, timeout=timeout)

    async def members(self, tenant_id: int) -> int | None:
        try:
            reply = await self.client.call(
                "identity",
                COUNT_MEMBERS,
                identity_internal.CountMembersRequest(tenant_id=tenant_id),
                identity_internal.CountMembersResponse,
                principal=service_principal("billing", tenant_id),
            )
        except Exception as error:  # away, slow or refusing: no figure, not a failure
            log.info("identity member count unavailable: %s", type(error).__name__)
            return None
        return int(reply.members)

    async def inbox(self, tenant_id: int) -> inbox_internal.GetUsageResponse | None:
        try:
            return await self.client.call(
                "inbox",
                GET_USAGE,
                inbox_internal.GetUsageRequest(tenant_id=tenant_id),
                inbox_internal.GetUsageResponse,
                principal=service_principal("billing", tenant_id),
            )
        except Exception as error:  # away, slow or refusing: no figures, not a failure
            log.info("inbox usage unavailable: %s", type(error).__name__)
            return None

    async def usage(self, tenant_id: int) -> billing_pb2.SubscriptionUsage:
        members, inbox = await asyncio.gather(self.members(tenant_id), self.inbox(tenant_id))
        usage = billing_pb2.SubscriptionUsage()
        if members is not None:
            usage.members = members
        if inbox is not None:
            usage.whatsapp_numbers = inbox.whatsapp_numbers
            usage.conversations_this_month = inbox.conversations_this_month
            usage.messages_this_month = inbox.messages_this_month
        return usage
