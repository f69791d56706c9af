"""Inbox's usage figures for the staff's workspace list (plixa.inbox.v1.InboxInternal/GetUsage).
Usage is decoration: when inbox cannot answer quickly, the figures are simply absent."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from services.backoffice.clients.contracts import contract
from services.kit.client import ServiceClient
from services.kit.errors import DomainError
from services.kit.principal import service_principal

log = logging.getLogger("plixa.backoffice.inbox")
CONTRACT = "plixa.inbox.v1.internal_pb2"
GET_USAGE = "/plixa.inbox.v1.InboxInternal/GetUsage"


@dataclass(frozen=True)
class InboxUsage:
    whatsapp_numbers: int
    conversations_this_month: int
    messages_this_month: int


class InboxClient:
    def __init__(self, secret: bytes, timeout: float = 1.0) -> None:
        self.client = ServiceClient(secret, timeout=timeout)

    async def usage(self, tenant_id: int) -> InboxUsage | None:
        messages = contract(CONTRACT)
        if messages is None:
            return None
        try:
            reply = await self.client.call(
                "inbox",
                GET_USAGE,
                messages.GetUsageRequest(tenant_id=tenant_id),
                messages.GetUsageResponse,
                principal=service_principal("backoffice", tenant_id),
            )
        except Exception as error:  # away, slow, or not built yet: no figures, not a failure
            if not isinstance(error, DomainError):
                log.info("inbox usage unavailable: %s", type(error).__name__)
            return None
        return InboxUsage(
            int(reply.whatsapp_numbers),
            int(reply.conversations_this_month),
            int(reply.messages_this_month),
        )

    async def usage_of(self, tenant_ids: list[int]) -> dict[int, InboxUsage]:
        answers = await asyncio.gather(*(self.usage(t) for t in tenant_ids))
        return {t: u for t, u in zip(tenant_ids, answers, strict=True) if u is not None}
