"""The catalogue's records as the store returns them and the servicers render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Label:
    id: int
    tenant_id: int
    name: str
    color: str | None
    position: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CustomFieldDefinition:
    id: int
    tenant_id: int
    name: str
    position: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ContactFieldValue:
    definition_id: int
    name: str
    value: str


@dataclass(frozen=True)
class ContactRecord:
    """A contacts row."""

    id: int
    tenant_id: int
    phone: str
    name: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Contact:
    """A contact with its labels and custom-field values, as the API answers it."""

    id: int
    tenant_id: int
    phone: str
    name: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    labels: list[Label] = field(default_factory=list)
    custom_fields: list[ContactFieldValue] = field(default_factory=list)

    @property
    def label_ids(self) -> list[int]:
        return [label.id for label in self.labels]


@dataclass(frozen=True)
class SavedReply:
    id: int
    tenant_id: int
    label: str
    body: str
    position: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SectorRecord:
    id: int
    tenant_id: int
    name: str
    description: str | None
    position: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Sector:
    id: int
    tenant_id: int
    name: str
    description: str | None
    position: int
    created_at: datetime
    updated_at: datetime
    user_ids: list[int] = field(default_factory=list)
