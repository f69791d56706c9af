"""The catalogue meeting inbox core through the gateway: a customer who wrote in on WhatsApp
is the contact the panel adds by hand (one per phone), and deleting a contact, label or sector
leaves the conversations in place, changed and announced."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plixa.inbox.v1 import events_pb2
from scripts.mesh import Stack
from tests.conftest import announce_plan, bearer, register, sql
from tests.fakes.evolution import EvolutionFake, new_message_id
from tests.test_api_tokens import wait_for_plan
from tests.test_inbox_messaging import pair, unique_phone


@pytest.fixture(scope="module")
def fake(stack: Stack, gateway_url: str) -> EvolutionFake:
    assert stack.evolution is not None, "PLIXA_EVOLUTION_URL set: these tests need the fake"
    return stack.evolution


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def subjects_about_contact(stack: Stack, contact_id: int) -> list[str]:
    rows = sql(
        stack,
        "SELECT subject, payload FROM inbox.outbox WHERE subject LIKE 'inbox.contact.%'"
        " ORDER BY seq",
    )
    return [
        row["subject"]
        for row in rows
        if events_pb2.ContactChanged.FromString(row["payload"]).contact.id == contact_id
    ]


def test_the_customer_who_wrote_in_is_the_contact_added_by_hand(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = register(api)
    announce_plan(stack, owner["tenant"]["id"], "professional")
    wait_for_plan(stack, owner["tenant"]["id"], "professional")
    headers = bearer(owner["token"])
    instance = pair(api, fake, owner["token"])
    phone = unique_phone()
    sent = fake.inbound_text(
        instance["instance_name"], phone, "oi", message_id=new_message_id(), push_name="Ana"
    )
    assert sent.status_code == 200, sent.text
    [conversation] = data(api.get("/v1/conversations", headers=headers))
    contact_id = conversation["contact_id"]
    assert contact_id is not None

    # The panel adds the same customer by hand, phone typed as people type it: the same contact.
    typed = f"+{phone[:2]} ({phone[2:4]}) {phone[4:9]}-{phone[9:]}"
    added = data(
        api.post(
            "/v1/contacts", headers=headers, json={"contact_phone": typed, "contact_name": "X"}
        ),
        201,
    )
    assert (added["id"], added["phone"], added["name"]) == (contact_id, phone, "Ana")
    assert subjects_about_contact(stack, contact_id) == ["inbox.contact.created"]

    # Labels and sectors the catalogue owns are the ones conversations carry.
    label = data(api.post("/v1/labels", headers=headers, json={"name": "Hot lead"}), 201)
    sector = data(api.post("/v1/sectors", headers=headers, json={"name": "Sales"}), 201)
    path = f"/v1/conversations/{conversation['id']}"
    data(api.post(f"{path}/labels/{label['id']}", headers=headers))
    data(api.patch(path, headers=headers, json={"sector_id": sector["id"]}))
    data(api.post(f"/v1/contacts/{contact_id}/labels/{label['id']}", headers=headers))

    assert api.delete(f"/v1/labels/{label['id']}", headers=headers).status_code == 204
    assert api.delete(f"/v1/sectors/{sector['id']}", headers=headers).status_code == 204
    assert api.delete(f"/v1/contacts/{contact_id}", headers=headers).status_code == 204
    after = data(api.get(path, headers=headers))["conversation"]
    assert (after["contact_id"], after["contact_phone"]) == (None, phone)
    assert (after["label_ids"], after["sector_id"]) == ([], None)
    rows = sql(
        stack,
        "SELECT payload FROM inbox.outbox WHERE subject = 'inbox.conversation.updated'"
        " ORDER BY seq",
    )
    reasons = [
        (list(event.changed), event.reason)
        for event in (events_pb2.ConversationChanged.FromString(r["payload"]) for r in rows)
        if event.conversation.id == conversation["id"] and event.reason.endswith("_deleted")
    ]
    assert reasons == [
        (["label_ids"], "label_deleted"),
        (["sector_id"], "sector_deleted"),
        (["contact_id"], "contact_deleted"),
    ]

    # The customer writes again: a new contact, linked to the same conversation.
    again = fake.inbound_text(
        instance["instance_name"], phone, "oi de novo", message_id=new_message_id()
    )
    assert again.status_code == 200, again.text
    relinked = data(api.get(path, headers=headers))["conversation"]
    assert relinked["contact_id"] not in (None, contact_id)
    listed = data(api.get("/v1/contacts", headers=headers, params={"search": phone}))
    assert [c["id"] for c in listed] == [relinked["contact_id"]]
