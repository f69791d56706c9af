"""The target an impersonated change is recorded against, read off its route and request."""

from __future__ import annotations

import pytest

from plixa.common.v1.raw_request_pb2 import RawRequest
from plixa.inbox.v1 import contacts_pb2
from services.kit.access import method_access
from services.kit.staff_audit import is_mutation, target_of


@pytest.mark.parametrize(
    ("route", "target"),
    [
        ("/v1/contacts", ("contact", 0)),
        ("/v1/contacts/{id}", ("contact", 42)),
        ("/v1/contacts/{id}/labels/{label_id}", ("label", 7)),
        ("/v1/contacts/{id}/custom-fields", ("contact", 42)),
        ("/v1/me", ("me", 0)),
        ("/v1/scheduling/providers/{id}/schedule", ("provider", 42)),
        ("/v1/admin/support/replies/{id}", ("reply", 42)),
    ],
)
def test_the_target_is_the_last_path_id_and_its_resource(
    route: str, target: tuple[str, int]
) -> None:
    request = contacts_pb2.ContactLabelRequest(id=42, label_id=7)
    assert target_of(route, request) == target


def test_a_field_the_request_lacks_or_a_non_numeric_id_records_no_id() -> None:
    assert target_of("/v1/things/{missing}", RawRequest()) == ("thing", 0)
    assert target_of("/v1/hooks/{content_type}", RawRequest(content_type="x")) == ("hook", 0)


def test_only_routed_changes_are_mutations() -> None:
    update = method_access("/plixa.inbox.v1.Contacts/UpdateContact")
    assert is_mutation(update) and update.template == "/v1/contacts/{id}"
    assert not is_mutation(method_access("/plixa.inbox.v1.Contacts/GetContact"))
    assert not is_mutation(method_access("/grpc.health.v1.Health/Check"))
