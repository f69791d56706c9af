"""Inbox conversations end to end: list filters and paging, PATCH, snooze and the wake-up job,
labels, bulk, delete, agent restriction, cross-tenant ids, plan limits, identity's events, and
the internal gRPC other services use."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from google.protobuf.message import Message

from plixa.inbox.v1 import events_pb2, inbox_pb2, internal_pb2
from scripts.mesh import Stack
from services.kit.client import ServiceClient
from services.kit.config import DEV_INTERNAL_SECRET
from services.kit.errors import DomainError
from services.kit.principal import service_principal
from tests.conftest import announce_plan, bearer, errors_of, register, sql
from tests.fakes.evolution import EvolutionFake
from tests.test_inbox_messaging import pair, unique_phone
from tests.test_team import join
from tests.waiting import poll

R = TypeVar("R", bound=Message)


@pytest.fixture(scope="module")
def fake(stack: Stack, gateway_url: str) -> EvolutionFake:
    assert stack.evolution is not None
    return stack.evolution


def internal(stack: Stack, method: str, request: Message, reply: type[R], tenant_id: int = 0) -> R:
    secret = stack.env().get("PLIXA_INTERNAL_SECRET", DEV_INTERNAL_SECRET).encode()

    async def run() -> R:
        client = ServiceClient(secret, lambda s: f"127.0.0.1:{stack.ports[s]}")
        try:
            return await client.call(
                "inbox",
                f"/plixa.inbox.v1.InboxInternal/{method}",
                request,
                reply,
                principal=service_principal("ai", tenant_id),
            )
        finally:
            await client.close()

    return asyncio.run(run())


def listing(api: httpx.Client, token: str, **params: Any) -> httpx.Response:
    return api.get("/v1/conversations", params=params, headers=bearer(token))


def ids_of(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


def workspace_with_chats(
    api: httpx.Client, fake: EvolutionFake, names: list[str]
) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """A workspace with a paired number and one conversation per customer name (in order)."""
    owner = register(api)
    token = owner["token"]
    instance = pair(api, fake, token)["instance_name"]
    base = int(time.time()) - 1000
    for i, name in enumerate(names):
        answer = fake.inbound_text(
            instance, unique_phone(), f"mensagem de {name}", push_name=name, timestamp=base + i
        )
        assert answer.status_code == 200, answer.text
    chats = listing(api, token, limit=100).json()["data"]
    return owner, instance, chats


def add_label(stack: Stack, tenant_id: int, name: str) -> int:
    """A label row as the catalogue API would make it (labels CRUD is catalogue's part)."""
    rows = sql(
        stack,
        "INSERT INTO inbox.labels (tenant_id, name, position, created_at, updated_at)"
        " VALUES ($1, $2, 0, now(), now()) RETURNING id",
        tenant_id,
        name,
    )
    return int(rows[0]["id"])


def add_sector(stack: Stack, tenant_id: int, name: str) -> int:
    rows = sql(
        stack,
        "INSERT INTO inbox.sectors (tenant_id, name, position, created_at, updated_at)"
        " VALUES ($1, $2, 0, now(), now()) RETURNING id",
        tenant_id,
        name,
    )
    return int(rows[0]["id"])


def last_update(stack: Stack, conversation_id: int) -> events_pb2.ConversationChanged:
    rows = sql(
        stack,
        "SELECT payload FROM inbox.outbox WHERE subject = 'inbox.conversation.updated'"
        " ORDER BY seq DESC LIMIT 200",
    )
    for row in rows:
        event = events_pb2.ConversationChanged.FromString(row["payload"])
        if event.conversation.id == conversation_id:
            return event
    raise AssertionError("no update event")


def test_list_filters_search_and_paging(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner, _, chats = workspace_with_chats(api, fake, ["Ana", "Bruno", "Carla", "Davi"])
    token = owner["token"]
    assert [c["contact_name"] for c in chats] == ["Davi", "Carla", "Bruno", "Ana"]  # newest first
    first = listing(api, token, limit=3)
    assert len(first.json()["data"]) == 3 and first.json()["meta"]["has_more"] is True
    rest = listing(api, token, limit=3, cursor=first.json()["meta"]["next_cursor"])
    assert [c["contact_name"] for c in rest.json()["data"]] == ["Ana"]
    assert rest.json()["meta"]["has_more"] is False
    by_id = {c["contact_name"]: c for c in chats}
    # search: name, phone digits, message text
    assert ids_of(listing(api, token, search="carl")) == [by_id["Carla"]["id"]]
    phone = by_id["Bruno"]["contact_phone"]
    assert ids_of(listing(api, token, search=phone[-6:])) == [by_id["Bruno"]["id"]]
    assert ids_of(listing(api, token, search="mensagem de davi")) == [by_id["Davi"]["id"]]
    # status, assignee, label, sector
    tenant = owner["tenant"]["id"]
    patched = api.patch(
        f"/v1/conversations/{by_id['Ana']['id']}",
        json={"status": "closed", "assigned_user_id": owner["user"]["id"]},
        headers=bearer(token),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["closed_at"] is not None
    assert ids_of(listing(api, token, status="closed")) == [by_id["Ana"]["id"]]
    assert by_id["Ana"]["id"] not in ids_of(listing(api, token, status="open"))
    assert ids_of(listing(api, token, assignee_id=owner["user"]["id"])) == [by_id["Ana"]["id"]]
    assert by_id["Ana"]["id"] not in ids_of(listing(api, token, unassigned="true"))
    label = add_label(stack, tenant, "VIP")
    attached = api.post(
        f"/v1/conversations/{by_id['Bruno']['id']}/labels/{label}", headers=bearer(token)
    )
    assert attached.status_code == 200 and attached.json()["data"]["label_ids"] == [label]
    again = api.post(
        f"/v1/conversations/{by_id['Bruno']['id']}/labels/{label}", headers=bearer(token)
    )
    assert again.status_code == 200 and again.json()["data"] == attached.json()["data"]
    rows = sql(
        stack, "SELECT count(*) AS n FROM inbox.conversation_labels WHERE label_id = $1", label
    )
    assert rows[0]["n"] == 1
    assert ids_of(listing(api, token, label_id=label)) == [by_id["Bruno"]["id"]]
    sector = add_sector(stack, tenant, "Vendas")
    moved = api.patch(
        f"/v1/conversations/{by_id['Carla']['id']}",
        json={"sector_id": sector},
        headers=bearer(token),
    )
    assert moved.status_code == 200, moved.text
    assert ids_of(listing(api, token, sector_id=sector)) == [by_id["Carla"]["id"]]
    detached = api.delete(
        f"/v1/conversations/{by_id['Bruno']['id']}/labels/{label}", headers=bearer(token)
    )
    assert detached.status_code == 200 and detached.json()["data"]["label_ids"] == []
    assert ids_of(listing(api, token, label_id=label)) == []
    bad = listing(api, token, status="pending")
    assert bad.status_code == 422
    bad_cursor = listing(api, token, cursor="nope")
    assert bad_cursor.status_code == 422


def test_patch_checks_assignee_and_emits_changed_fields(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner, _, chats = workspace_with_chats(api, fake, ["Ana"])
    token = owner["token"]
    chat = chats[0]
    agent = join(api, token)
    ok = api.patch(
        f"/v1/conversations/{chat['id']}",
        json={
            "contact_name": "Ana Souza",
            "notes": "cliente antiga",
            "assigned_user_id": agent["user"]["id"],
        },
        headers=bearer(token),
    )
    assert ok.status_code == 200, ok.text
    data = ok.json()["data"]
    assert data["contact_name"] == "Ana Souza" and data["notes"] == "cliente antiga"
    assert data["assigned_user_id"] == agent["user"]["id"]
    event = last_update(stack, chat["id"])
    assert set(event.changed) == {"contact_name", "notes", "assigned_user_id"}
    assert event.conversation.assigned_user_id == agent["user"]["id"]
    assert event.actor_user_id == owner["user"]["id"]
    stranger = register(api)
    refused = api.patch(
        f"/v1/conversations/{chat['id']}",
        json={"assigned_user_id": stranger["user"]["id"]},
        headers=bearer(token),
    )
    assert refused.status_code == 422
    assert errors_of(refused)[0]["field"] == "assigned_user_id"
    unknown = api.patch(
        f"/v1/conversations/{chat['id']}", json={"handler": "ai"}, headers=bearer(token)
    )
    assert unknown.status_code == 422
    cleared = api.patch(
        f"/v1/conversations/{chat['id']}", json={"assigned_user_id": None}, headers=bearer(token)
    )
    assert cleared.json()["data"]["assigned_user_id"] is None


def test_snooze_hides_until_the_job_wakes_it(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner, _, chats = workspace_with_chats(api, fake, ["Ana", "Bruno"])
    token = owner["token"]
    ana_id = next(c["id"] for c in chats if c["contact_name"] == "Ana")
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    snoozed = api.post(
        f"/v1/conversations/{ana_id}/snooze", json={"until": later}, headers=bearer(token)
    )
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["data"]["snoozed_until"] is not None
    assert ana_id not in ids_of(listing(api, token))
    assert ids_of(listing(api, token, snoozed="true")) == [ana_id]
    woken = api.post(
        f"/v1/conversations/{ana_id}/snooze", json={"until": None}, headers=bearer(token)
    )
    assert woken.status_code == 200 and woken.json()["data"]["snoozed_until"] is None
    assert ana_id in ids_of(listing(api, token))
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    api.post(f"/v1/conversations/{ana_id}/snooze", json={"until": soon}, headers=bearer(token))
    assert ana_id not in ids_of(listing(api, token))
    assert poll(lambda: ana_id in ids_of(listing(api, token)), timeout=10)
    event = last_update(stack, ana_id)
    assert event.reason == "snooze_woken" and list(event.changed) == ["snoozed_until"]


def test_bulk_skips_foreign_ids_and_delete_removes_messages(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner, _, chats = workspace_with_chats(api, fake, ["Ana", "Bruno", "Carla"])
    token = owner["token"]
    other, _, foreign = workspace_with_chats(api, fake, ["Zeca"])
    mine = [c["id"] for c in chats]
    closed = api.post(
        "/v1/conversations/bulk",
        json={"action": "close", "ids": [*mine, foreign[0]["id"]]},
        headers=bearer(token),
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["data"]["affected"] == 3
    assert listing(api, other["token"]).json()["data"][0]["status"] == "open"
    again = api.post(
        "/v1/conversations/bulk", json={"action": "close", "ids": mine}, headers=bearer(token)
    )
    assert again.json()["data"]["affected"] == 0
    label = add_label(stack, owner["tenant"]["id"], "Bulk")
    labelled = api.post(
        "/v1/conversations/bulk",
        json={"action": "add_label", "ids": [*mine, foreign[0]["id"]], "label_id": label},
        headers=bearer(token),
    )
    assert labelled.json()["data"]["affected"] == 3
    foreign_label = api.post(
        "/v1/conversations/bulk",
        json={
            "action": "add_label",
            "ids": mine,
            "label_id": add_label(stack, other["tenant"]["id"], "x"),
        },
        headers=bearer(token),
    )
    assert foreign_label.status_code == 422
    assigned = api.post(
        "/v1/conversations/bulk",
        json={"action": "assign", "ids": mine, "assignee_id": owner["user"]["id"]},
        headers=bearer(token),
    )
    assert assigned.json()["data"]["affected"] == 3
    bad = api.post(
        "/v1/conversations/bulk", json={"action": "explode", "ids": mine}, headers=bearer(token)
    )
    assert bad.status_code == 422
    deleted = api.post(
        "/v1/conversations/bulk",
        json={"action": "delete", "ids": [mine[0], foreign[0]["id"]]},
        headers=bearer(token),
    )
    assert deleted.json()["data"]["affected"] == 1
    gone = api.delete(f"/v1/conversations/{mine[1]}", headers=bearer(token))
    assert gone.status_code == 204
    assert api.get(f"/v1/conversations/{mine[1]}", headers=bearer(token)).status_code == 404
    left = sql(
        stack,
        "SELECT count(*) AS n FROM inbox.messages WHERE conversation_id = ANY($1::bigint[])",
        mine[:2],
    )
    assert left[0]["n"] == 0
    assert listing(api, other["token"]).status_code == 200
    assert len(listing(api, other["token"]).json()["data"]) == 1
    subjects = sql(
        stack,
        "SELECT count(*) AS n FROM inbox.outbox WHERE subject = 'inbox.conversation.deleted'"
        " AND tenant_id = $1",
        owner["tenant"]["id"],
    )
    assert subjects[0]["n"] == 2


def test_other_tenants_ids_are_not_found_everywhere(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner, _, chats = workspace_with_chats(api, fake, ["Ana"])
    chat = chats[0]
    intruder = register(api)
    headers = bearer(intruder["token"])
    number = api.get("/v1/phone-instances", headers=bearer(owner["token"])).json()["data"][0]
    message = api.get(
        f"/v1/conversations/{chat['id']}/messages", headers=bearer(owner["token"])
    ).json()["data"][0]
    label = add_label(stack, owner["tenant"]["id"], "mine")
    attempts = [
        api.get(f"/v1/conversations/{chat['id']}", headers=headers),
        api.get(f"/v1/conversations/{chat['id']}/messages", headers=headers),
        api.patch(f"/v1/conversations/{chat['id']}", json={"notes": "x"}, headers=headers),
        api.delete(f"/v1/conversations/{chat['id']}", headers=headers),
        api.post(f"/v1/conversations/{chat['id']}/snooze", json={"until": None}, headers=headers),
        api.post(f"/v1/conversations/{chat['id']}/messages", json={"body": "x"}, headers=headers),
        api.post(f"/v1/conversations/{chat['id']}/labels/{label}", headers=headers),
        api.post(f"/v1/messages/{message['id']}/retry", headers=headers),
        api.get(f"/v1/phone-instances/{number['id']}", headers=headers),
        api.post(f"/v1/phone-instances/{number['id']}/restart", headers=headers),
        api.post(f"/v1/phone-instances/{number['id']}/disconnect", headers=headers),
        api.delete(f"/v1/phone-instances/{number['id']}", headers=headers),
    ]
    assert [a.status_code for a in attempts] == [404] * len(attempts)
    assert listing(api, intruder["token"]).json()["data"] == []
    # nothing changed for the owner
    still = api.get(f"/v1/phone-instances/{number['id']}", headers=bearer(owner["token"]))
    assert still.json()["data"]["status"] == "connected"
    # no token at all
    assert api.get("/v1/conversations").status_code == 401


def test_agents_cannot_manage_numbers_and_restriction_limits_their_view(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner, _, chats = workspace_with_chats(api, fake, ["Ana", "Bruno", "Carla"])
    token = owner["token"]
    agent = join(api, token)
    agent_headers = bearer(agent["token"])
    assert api.post("/v1/phone-instances", json={}, headers=agent_headers).status_code == 403
    number = api.get("/v1/phone-instances", headers=agent_headers).json()["data"][0]
    assert (
        api.post(
            f"/v1/phone-instances/{number['id']}/disconnect", headers=agent_headers
        ).status_code
        == 403
    )
    assert (
        api.delete(f"/v1/phone-instances/{number['id']}", headers=agent_headers).status_code == 403
    )
    by_name = {c["contact_name"]: c["id"] for c in chats}
    api.patch(
        f"/v1/conversations/{by_name['Ana']}",
        json={"assigned_user_id": agent["user"]["id"]},
        headers=bearer(token),
    )
    api.patch(
        f"/v1/conversations/{by_name['Bruno']}",
        json={"assigned_user_id": owner["user"]["id"]},
        headers=bearer(token),
    )
    assert len(ids_of(listing(api, agent["token"]))) == 3
    turned_on = api.put(
        "/v1/security-config",
        json={"agent_restricted_to_own_conversations": True},
        headers=bearer(token),
    )
    assert turned_on.status_code == 200, turned_on.text
    assert poll(lambda: len(ids_of(listing(api, agent["token"]))) == 2)
    assert sorted(ids_of(listing(api, agent["token"]))) == sorted(
        [by_name["Ana"], by_name["Carla"]]
    )
    hidden = by_name["Bruno"]
    assert api.get(f"/v1/conversations/{hidden}", headers=agent_headers).status_code == 404
    assert (
        api.post(
            f"/v1/conversations/{hidden}/messages", json={"body": "x"}, headers=agent_headers
        ).status_code
        == 404
    )
    bulk = api.post(
        "/v1/conversations/bulk",
        json={"action": "close", "ids": list(by_name.values())},
        headers=agent_headers,
    )
    assert bulk.json()["data"]["affected"] == 2
    assert len(ids_of(listing(api, token, status="closed"))) == 2  # the owner sees everything
    # Removing the agent unassigns their conversations.
    removed = api.delete(f"/v1/team/members/{agent['user']['id']}", headers=bearer(token))
    assert removed.status_code == 204, removed.text
    assert poll(
        lambda: (
            api.get(f"/v1/conversations/{by_name['Ana']}", headers=bearer(token)).json()["data"][
                "conversation"
            ]["assigned_user_id"]
            is None
        )
    )


def test_number_limit_follows_the_plan(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = register(api)
    token = owner["token"]
    assert api.post("/v1/phone-instances", json={}, headers=bearer(token)).status_code == 201
    second = api.post("/v1/phone-instances", json={}, headers=bearer(token))
    assert second.status_code == 409
    assert errors_of(second)[0]["code"] == "PHONE_NUMBER_LIMIT_REACHED"
    announce_plan(stack, owner["tenant"]["id"], "professional")
    assert poll(
        lambda: api.post("/v1/phone-instances", json={}, headers=bearer(token)).status_code == 201
    )
    third = api.post("/v1/phone-instances", json={}, headers=bearer(token))
    assert third.status_code == 409
    # Evolution refusing a creation keeps nothing and answers 502.
    announce_plan(stack, owner["tenant"]["id"], "business")
    assert poll(
        lambda: sql(
            stack,
            "SELECT 1 FROM inbox.tenant_settings WHERE tenant_id = $1"
            " AND (limits->>'whatsapp_numbers')::int = 5",
            owner["tenant"]["id"],
        )
    )
    before = len(api.get("/v1/phone-instances", headers=bearer(token)).json()["data"])
    fake.fail("/instance/create", 500)
    failed = api.post("/v1/phone-instances", json={}, headers=bearer(token))
    assert failed.status_code == 502
    assert len(api.get("/v1/phone-instances", headers=bearer(token)).json()["data"]) == before


def test_disconnect_restart_delete_and_connection_events(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = register(api)
    token = owner["token"]
    number = pair(api, fake, token)
    path = f"/v1/phone-instances/{number['id']}"
    restarted = api.post(f"{path}/restart", headers=bearer(token))
    assert restarted.status_code == 200, restarted.text
    assert restarted.json()["data"]["status"] == "pending_qr"
    fake.connect(number["instance_name"], number["phone_number"])
    off = api.post(f"{path}/disconnect", headers=bearer(token))
    assert off.status_code == 200 and off.json()["data"]["status"] == "disconnected"
    assert fake.calls(f"/instance/logout/{number['instance_name']}")
    # The next pairing needs a fresh QR: asking for the number fetches one.
    fake.qr_updated(number["instance_name"])
    pending = api.get(path, headers=bearer(token)).json()["data"]
    assert pending["status"] == "pending_qr" and pending["qr_code"]
    fake.connect(number["instance_name"], number["phone_number"])
    fake.disconnect(number["instance_name"])
    assert api.get(path, headers=bearer(token)).json()["data"]["status"] == "disconnected"
    subjects = [
        r["subject"]
        for r in sql(
            stack,
            "SELECT subject FROM inbox.outbox WHERE tenant_id = $1 AND subject LIKE"
            " 'inbox.phone_instance.%' ORDER BY seq",
            owner["tenant"]["id"],
        )
    ]
    assert subjects[0] == "inbox.phone_instance.connected"
    assert "inbox.phone_instance.disconnected" in subjects
    assert api.delete(path, headers=bearer(token)).status_code == 204
    assert api.get(path, headers=bearer(token)).status_code == 404
    assert number["instance_name"] not in fake.instances


def test_external_send_needs_the_plan_and_creates_the_conversation(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = register(api)
    token = owner["token"]
    pair(api, fake, token)
    phone = unique_phone()
    refused = api.post(
        "/v1/messages/send", json={"phone": phone, "body": "oi"}, headers=bearer(token)
    )
    assert refused.status_code == 403
    announce_plan(stack, owner["tenant"]["id"], "business")

    def send() -> httpx.Response | None:
        answer = api.post(
            "/v1/messages/send", json={"phone": f"+{phone}", "body": "oi"}, headers=bearer(token)
        )
        return answer if answer.status_code == 201 else None

    sent = poll(send)
    assert sent is not None
    data = sent.json()["data"]
    assert data["message"]["status"] == "sent" and data["message"]["body"] == "oi"
    chat = api.get(f"/v1/conversations/{data['conversation_id']}", headers=bearer(token))
    assert chat.json()["data"]["conversation"]["contact_phone"] == phone
    bad = api.post("/v1/messages/send", json={"phone": "12", "body": "oi"}, headers=bearer(token))
    assert bad.status_code == 422 and errors_of(bad)[0]["field"] == "phone"


def test_internal_rpcs(api: httpx.Client, fake: EvolutionFake, stack: Stack) -> None:
    owner, instance, chats = workspace_with_chats(api, fake, ["Ana"])
    tenant = owner["tenant"]["id"]
    chat = chats[0]
    claim = internal(
        stack,
        "ClaimHandler",
        internal_pb2.ClaimHandlerRequest(
            tenant_id=tenant, conversation_id=chat["id"], expected="none", new="ai", reason="faq"
        ),
        internal_pb2.ClaimHandlerResponse,
        tenant,
    )
    assert claim.claimed and claim.conversation.handler == "ai"
    lost = internal(
        stack,
        "ClaimHandler",
        internal_pb2.ClaimHandlerRequest(
            tenant_id=tenant, conversation_id=chat["id"], expected="none", new="flow"
        ),
        internal_pb2.ClaimHandlerResponse,
        tenant,
    )
    assert not lost.claimed and lost.conversation.handler == "ai"
    event = last_update(stack, chat["id"])
    assert list(event.changed) == ["handler"] and event.handler_reason == "faq"
    request = internal_pb2.SendAsBotRequest(
        tenant_id=tenant,
        conversation_id=chat["id"],
        text="Olá! Sou o assistente.",
        sender_kind="ai",
        idempotency_key="k1",
    )
    first = internal(
        stack,
        "SendAsBot",
        request,
        inbox_pb2.Message,
        tenant,
    )
    again = internal(stack, "SendAsBot", request, type(first), tenant)
    assert first.id == again.id and first.sender_kind == "ai" and first.status == "sent"
    recent = internal(
        stack,
        "ListRecentMessages",
        internal_pb2.ListRecentMessagesRequest(
            tenant_id=tenant, conversation_id=chat["id"], limit=10
        ),
        internal_pb2.ListRecentMessagesResponse,
        tenant,
    )
    assert [m.sender_kind for m in recent.messages] == ["customer", "ai"]
    contact_id = chat["contact_id"]
    contacts = internal(
        stack,
        "GetContacts",
        internal_pb2.GetContactsRequest(tenant_id=tenant, ids=[contact_id, 999999999]),
        internal_pb2.GetContactsResponse,
        tenant,
    )
    assert [c.id for c in contacts.contacts] == [contact_id]
    other = register(api)
    none = internal(
        stack,
        "GetContacts",
        internal_pb2.GetContactsRequest(tenant_id=other["tenant"]["id"], ids=[contact_id]),
        internal_pb2.GetContactsResponse,
    )
    assert list(none.contacts) == []
    with pytest.raises(DomainError) as missing:
        internal(
            stack,
            "SendAsBot",
            internal_pb2.SendAsBotRequest(
                tenant_id=other["tenant"]["id"],
                conversation_id=chat["id"],
                text="x",
                sender_kind="ai",
                idempotency_key="z",
            ),
            type(first),
        )
    assert missing.value.http_status == 404
    with pytest.raises(DomainError) as no_number:
        internal(
            stack,
            "SendToContact",
            internal_pb2.SendToContactRequest(
                tenant_id=other["tenant"]["id"],
                phone=unique_phone(),
                text="x",
                sender_kind="system",
                idempotency_key="r1",
            ),
            internal_pb2.SendToContactResponse,
        )
    assert no_number.value.code == "NO_CONNECTED_NUMBER"
    phone = unique_phone()
    reminder = internal_pb2.SendToContactRequest(
        tenant_id=tenant,
        phone=phone,
        text="Lembrete: amanhã 10h",
        sender_kind="system",
        idempotency_key="appt-1",
    )
    sent = internal(stack, "SendToContact", reminder, internal_pb2.SendToContactResponse, tenant)
    repeat = internal(stack, "SendToContact", reminder, internal_pb2.SendToContactResponse, tenant)
    assert sent.conversation_id == repeat.conversation_id and sent.message.id == repeat.message.id
    assert (
        len([r for r in fake.sent(instance) if r.body.get("text") == "Lembrete: amanhã 10h"]) == 1
    )
    usage = internal(
        stack,
        "GetUsage",
        internal_pb2.GetUsageRequest(tenant_id=tenant),
        internal_pb2.GetUsageResponse,
        tenant,
    )
    assert usage.whatsapp_numbers == 1
    assert usage.conversations_this_month == 2
    assert usage.messages_this_month == 3
