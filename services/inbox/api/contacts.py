"""The Contacts servicer: the directory, its labels and custom-field values."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2, json_format

from plixa.inbox.v1 import contacts_pb2, contacts_pb2_grpc
from services.inbox.domain import contacts
from services.inbox.domain.catalogue_models import Contact
from services.kit.db import Database
from services.kit.paging import PageQuery
from services.kit.protos import masked_changes, optional, to_proto


def contact_to_proto(contact: Contact) -> contacts_pb2.Contact:
    return to_proto(contact, contacts_pb2.Contact)


class ContactsApi(contacts_pb2_grpc.ContactsServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ListContacts(
        self, request: contacts_pb2.ListContactsRequest, context: grpc.aio.ServicerContext
    ) -> contacts_pb2.ListContactsResponse:
        async with self.db.reader() as uow:
            page = await contacts.list_page(
                uow,
                PageQuery.from_proto(request.page),
                search=optional(request, "search"),
                label_id=optional(request, "label_id"),
            )
        return contacts_pb2.ListContactsResponse(
            items=[contact_to_proto(c) for c in page.items], meta=page.meta()
        )

    async def GetContact(
        self, request: contacts_pb2.ContactRef, context: grpc.aio.ServicerContext
    ) -> contacts_pb2.Contact:
        async with self.db.reader() as uow:
            return contact_to_proto(await contacts.get(uow, request.id))

    async def CreateContact(
        self, request: contacts_pb2.CreateContactRequest, context: grpc.aio.ServicerContext
    ) -> contacts_pb2.Contact:
        async with self.db.unit_of_work() as uow:
            contact = await contacts.create(
                uow,
                phone=request.contact_phone,
                name=optional(request, "contact_name"),
                notes=optional(request, "notes"),
            )
        return contact_to_proto(contact)

    async def UpdateContact(
        self, request: contacts_pb2.UpdateContactRequest, context: grpc.aio.ServicerContext
    ) -> contacts_pb2.Contact:
        asked = masked_changes(request, contacts.ContactUpdate)
        async with self.db.unit_of_work() as uow:
            contact = await contacts.update(uow, request.id, asked)
        return contact_to_proto(contact)

    async def DeleteContact(
        self, request: contacts_pb2.ContactRef, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await contacts.delete(uow, request.id)
        return empty_pb2.Empty()

    async def AttachContactLabel(
        self, request: contacts_pb2.ContactLabelRequest, context: grpc.aio.ServicerContext
    ) -> contacts_pb2.Contact:
        async with self.db.unit_of_work() as uow:
            contact = await contacts.attach_label(uow, request.id, request.label_id)
        return contact_to_proto(contact)

    async def DetachContactLabel(
        self, request: contacts_pb2.ContactLabelRequest, context: grpc.aio.ServicerContext
    ) -> contacts_pb2.Contact:
        async with self.db.unit_of_work() as uow:
            contact = await contacts.detach_label(uow, request.id, request.label_id)
        return contact_to_proto(contact)

    async def SetContactCustomFields(
        self,
        request: contacts_pb2.SetContactCustomFieldsRequest,
        context: grpc.aio.ServicerContext,
    ) -> contacts_pb2.Contact:
        values = json_format.MessageToDict(request.values)
        async with self.db.unit_of_work() as uow:
            contact = await contacts.set_custom_fields(uow, request.id, values)
        return contact_to_proto(contact)
