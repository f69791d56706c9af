"""Inbox's internal gRPC (CONTRACTS.md): messages to customers over WhatsApp and contact reads."""

from __future__ import annotations

from plixa.inbox.v1 import internal_pb2
from services.kit.client import ServiceClient, Unimplemented
from services.kit.errors import invalid
from services.kit.principal import service_principal

SEND_TO_CONTACT = "/plixa.inbox.v1.InboxInternal/SendToContact"
GET_CONTACTS = "/plixa.inbox.v1.InboxInternal/GetContacts"


class Inbox:
    def __init__(self, client: ServiceClient, timeout: float = 5.0) -> None:
        self.client = client
        self.timeout = timeout

    async def send_to_contact(
        self, tenant_id: int, contact_id: int, phone: str, text: str, idempotency_key: str
    ) -> int:
        """Sends as "system"; the key makes a retried send answer the first message. Returns the
        conversation id. Raises DomainError (e.g. NO_CONNECTED_NUMBER), ServiceUnavailable or
        Unimplemented."""
        reply = await self.client.call(
            "inbox",
            SEND_TO_CONTACT,
            internal_pb2.SendToContactRequest(
                tenant_id=tenant_id,
                contact_id=contact_id,
                phone=phone,
                text=text,
                sender_kind="system",
                idempotency_key=idempotency_key,
            ),
            internal_pb2.SendToContactResponse,
            principal=service_principal("scheduling", tenant_id),
            timeout=self.timeout,
        )
        return int(reply.conversation_id)

    async def known_contacts(self, tenant_id: int, ids: list[int]) -> set[int] | None:
        """The ids among `ids` that are the tenant's contacts; None while inbox has no such RPC
        (then contacts cannot be checked and are taken as given)."""
        if not ids:
            return set()
        try:
            reply = await self.client.call(
                "inbox",
                GET_CONTACTS,
                internal_pb2.GetContactsRequest(tenant_id=tenant_id, ids=sorted(set(ids))),
                internal_pb2.GetContactsResponse,
                principal=service_principal("scheduling", tenant_id),
                timeout=self.timeout,
            )
        except Unimplemented:
            return None
        return {c.id for c in reply.contacts if c.tenant_id == tenant_id}

    async def require_contact(self, tenant_id: int, contact_id: int | None) -> None:
        """422 on `contact_id` unless it is one of the tenant's contacts (none given, or inbox
        without the RPC: nothing to check)."""
        if not contact_id:
            return
        known = await self.known_contacts(tenant_id, [contact_id])
        if known is not None and contact_id not in known:
            raise invalid("contact_id", "No such contact in this workspace.", "exists")
