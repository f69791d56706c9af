"""The kit's typed-row and proto helpers: row → dataclass, dataclass → message, mask → changes."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from plixa.identity.v1 import api_tokens_pb2, identity_pb2, onboarding_pb2, workspace_pb2
from services.kit import protos, rows
from services.kit.errors import DomainError
from services.kit.protos import masked_changes, to_proto
from services.kit.rows import UNSET, Unset, changed, from_row, from_rows

WHEN = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    nickname: str | None
    tags: tuple[str, ...]
    scores: list[int] | None = None
    locale: str = "en"


@dataclass(frozen=True)
class PersonChanges:
    name: str | Unset = UNSET
    nickname: str | Unset | None = UNSET


# ── rows ────────────────────────────────────────────────────────────────────────────────────


def test_a_row_fills_the_same_named_fields_and_ignores_other_columns() -> None:
    Row = namedtuple("Row", "id name nickname tags scores secret")
    person = from_row(Person, Row(7, "Ana", None, ["a", "b"], [1, 2], "hidden"))
    assert person == Person(7, "Ana", None, ("a", "b"), [1, 2])
    assert isinstance(person.tags, tuple)  # an ARRAY column arrives as a list


def test_a_missing_column_with_a_default_keeps_the_default() -> None:
    Row = namedtuple("Row", "id name nickname tags")
    assert from_row(Person, Row(1, "B", "b", [])).locale == "en"


def test_a_missing_required_column_is_a_programming_error() -> None:
    Row = namedtuple("Row", "id name")
    with pytest.raises(KeyError, match="nickname"):
        from_row(Person, Row(1, "B"))


def test_the_plan_is_built_once_per_class_and_columns() -> None:
    Row = namedtuple("Row", "id name nickname tags locale")
    from_rows(Person, [Row(1, "a", None, [], "pt"), Row(2, "b", None, [], "es")])
    plans = [k for k in rows._row_plans if k[0] is Person and k[1] == Row._fields]
    assert len(plans) == 1
    cached = rows._row_plans[plans[0]]
    from_row(Person, Row(3, "c", None, [], "fr"))
    assert rows._row_plans[plans[0]] is cached


def test_changed_keeps_none_and_drops_unset() -> None:
    assert changed(PersonChanges()) == {}
    assert changed(PersonChanges(nickname=None)) == {"nickname": None}
    assert changed(PersonChanges(name="X")) == {"name": "X"}


# ── dataclass → message ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class User:
    id: int
    tenant_id: int
    name: str
    email: str
    role: str
    locale: str
    password_hash: str = "never copied: the message has no such field"


@dataclass(frozen=True)
class Tenant:
    id: int
    name: str
    slug: str
    country_code: str
    timezone: str
    locale: str
    status: str


@dataclass(frozen=True)
class Session:
    user: User
    tenant: Tenant
    token: str
    two_factor: bool = False


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    abilities: list[str]
    prefix: str
    expires_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    plain: str | None = None


def test_same_named_fields_and_nested_dataclasses_are_copied() -> None:
    user = User(1, 2, "Ana", "ana@example.com", "owner", "pt")
    tenant = Tenant(2, "Shop", "shop-1", "BR", "America/Sao_Paulo", "pt", "active")
    message = to_proto(Session(user, tenant, "1|s", True), identity_pb2.AuthSession)
    assert message == identity_pb2.AuthSession(
        user=identity_pb2.User(
            id=1, tenant_id=2, name="Ana", email="ana@example.com", role="owner", locale="pt"
        ),
        tenant=identity_pb2.Tenant(
            id=2,
            name="Shop",
            slug="shop-1",
            country_code="BR",
            timezone="America/Sao_Paulo",
            locale="pt",
            status="active",
        ),
        token="1|s",
        two_factor=True,
    )


def test_datetimes_become_timestamps_none_stays_unset_and_lists_fill_repeated() -> None:
    token = Token(5, "ci", ["read", "write"], "abcd", None, WHEN, WHEN, plain="5|x")
    message = to_proto(token, api_tokens_pb2.CreatedApiToken, token=token.plain)
    assert list(message.abilities) == ["read", "write"]
    assert not message.HasField("expires_at")
    assert message.created_at.ToDatetime(tzinfo=UTC) == WHEN
    assert message.token == "5|x"


def test_overrides_compute_or_clear_fields() -> None:
    tenant = Tenant(2, "Shop", "shop-1", "BR", "UTC", "pt", "active")

    @dataclass(frozen=True)
    class Settings:
        name: str
        timezone: str
        locale: str
        currency: str
        logo_url: str | None

    settings = Settings("Shop", "UTC", "pt", "EUR", "https://old")
    message = to_proto(settings, workspace_pb2.WorkspaceConfig, logo_url=None)
    assert not message.HasField("logo_url")
    computed = to_proto(settings, workspace_pb2.WorkspaceConfig, logo_url="https://new")
    assert computed.logo_url == "https://new" and computed.currency == "EUR"
    assert to_proto(tenant, identity_pb2.Tenant).timezone == "UTC"


@dataclass(frozen=True)
class Step:
    key: str
    done: bool
    service: str


@dataclass(frozen=True)
class Checklist:
    dismissed: bool
    steps: list[Step] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(s.done for s in self.steps)


def test_properties_and_lists_of_nested_dataclasses() -> None:
    checklist = Checklist(False, [Step("a", True, "inbox"), Step("b", False, "ai")])
    message = to_proto(checklist, onboarding_pb2.Onboarding, total=len(checklist.steps))
    assert message.completed == 1 and message.total == 2
    assert [s.key for s in message.steps] == ["a", "b"]
    assert message.steps[0] == onboarding_pb2.OnboardingStep(key="a", done=True, service="inbox")


def test_the_message_plan_is_built_once_per_pair() -> None:
    user = User(1, 2, "Ana", "a@b.co", "agent", "en")
    to_proto(user, identity_pb2.User)
    build = protos._builders[(User, identity_pb2.User)]
    to_proto(user, identity_pb2.User)
    assert protos._builders[(User, identity_pb2.User)] is build
    assert "password_hash" not in build(user)


# ── update mask → change set ────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class MeChanges:
    name: str | Unset | None = UNSET
    locale: str | Unset | None = UNSET


def test_only_masked_fields_change_and_null_is_none() -> None:
    request = identity_pb2.UpdateMeRequest(name="Bo", locale="pt")
    request.update_mask.paths.extend(["name"])
    assert masked_changes(request, MeChanges) == MeChanges(name="Bo")

    nulled = identity_pb2.UpdateMeRequest()
    nulled.update_mask.paths.extend(["locale"])
    assert masked_changes(nulled, MeChanges) == MeChanges(locale=None)


def test_an_empty_mask_changes_nothing_even_with_fields_set() -> None:
    request = identity_pb2.UpdateMeRequest(name="Bo")
    assert masked_changes(request, MeChanges) == MeChanges()


def test_a_path_the_change_set_does_not_know_is_refused_naming_it() -> None:
    request = identity_pb2.UpdateMeRequest()
    request.update_mask.paths.extend(["name", "email"])
    with pytest.raises(DomainError) as raised:
        masked_changes(request, MeChanges)
    assert [p.field for p in raised.value.fields] == ["email"]
