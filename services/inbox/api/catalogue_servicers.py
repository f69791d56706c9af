"""The catalogue's servicers (contacts, labels, custom fields, saved replies, sectors), for
services/inbox/__main__.py to register with the rest of inbox's."""

from __future__ import annotations

from typing import TypeVar

from services.inbox.api.contacts import ContactsApi
from services.inbox.api.custom_fields import CustomFieldDefinitionsApi
from services.inbox.api.labels import LabelsApi
from services.inbox.api.saved_replies import SavedRepliesApi
from services.inbox.api.sectors import SectorsApi
from services.inbox.clients.identity import Members
from services.kit.config import ServiceSettings
from services.kit.server import ServiceContext

S = TypeVar("S", bound=ServiceSettings)


def catalogue_servicers(ctx: ServiceContext[S]) -> list[object]:
    members = Members(ctx.settings.internal_secret)
    return [
        ContactsApi(ctx.db),
        LabelsApi(ctx.db),
        CustomFieldDefinitionsApi(ctx.db),
        SavedRepliesApi(ctx.db),
        SectorsApi(ctx.db, members),
    ]
