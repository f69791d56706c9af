"""Inbox end to end through the gateway: pairing a number, inbound messages over Evolution's
webhook (tests/fakes/evolution.py posts them), replies, receipts, failures and retries."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from plixa.inbox.v1 import events_pb2
from scripts.mesh import Stack
from tests.conftest import bearer, errors_of, register, sql
from tests.fakes.evolution import EvolutionFake, new_message_id
from tests.test_api_tokens import business_owner
from tests.waiting import poll


@pytest.fixture(scope="module")
def fake(stack: Stack, gateway_url: str) -> EvolutionFake:
    assert stack.evolution is not None, "PLIXA_EVOLUTION_URL set: these tests need the fake"
    return stack.evolution


def unique_phone() -> str:
    return "5511" + str(uuid.uuid4().int)[:9]


def pair(api: httpx.Client, fake: EvolutionFake, token: str) -> dict[str, Any]:
    """A connected number: created through the API, paired on the fake."""
    created = api.post("/v1/phone-instances", json={"name": "Sales"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    instance = created.json()["data"]
    number = unique_phone()
    answer = fake.connect(instance["instance_name"], number)
    assert answer.status_code == 200, answer.text
    got = api.get(f"/v1/phone-instances/{instance['id']}", headers=bearer(token)).json()["data"]
    assert got["status"] == "connected"
    return got


def conversations(api: httpx.Client, token: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/conversations", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_pairing_returns_a_qr_then_connects(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = register(api)
    token = owner["token"]
    created = api.post("/v1/phone-instances", json={}, headers=bearer(token))
    assert created.status_code == 201, created.text
    instance = created.json()["data"]
    assert instance["status"] == "pending_qr"
    assert instance["qr_code"].startswith("data:image/png;base64,")
    # Evolution was asked with our webhook URL, our secret header and the event list.
    call = fake.calls("/instance/create")[-1]
    assert call.body["instanceName"] == instance["instance_name"]
    assert call.body["webhook"]["url"].endswith(
        f"/v1/webhooks/evolution/{instance['instance_name']}"
    )
    assert call.body["webhook"]["events"]
    assert call.headers["apikey"] == fake.global_key
    # The per-instance key is sealed at rest.
    (row,) = sql(stack, "SELECT api_key FROM inbox.phone_instances WHERE id = $1", instance["id"])
    assert fake.instances[instance["instance_name"]].token not in row["api_key"]
    # Pairing: connection.update open.
    number = unique_phone()
    assert fake.connect(instance["instance_name"], number).status_code == 200
    got = api.get(f"/v1/phone-instances/{instance['id']}", headers=bearer(token)).json()["data"]
    assert got["status"] == "connected"
    assert got["phone_number"] == number
    assert got["qr_code"] is None
    listed = api.get("/v1/phone-instances", headers=bearer(token)).json()["data"]
    assert [i["id"] for i in listed] == [instance["id"]]


def test_inbound_text_creates_contact_and_conversation_once(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = register(api)
    token = owner["token"]
    instance = pair(api, fake, token)
    name = instance["instance_name"]
    phone = unique_phone()
    wa_id = new_message_id()
    first = fake.inbound_text(name, phone, "oi, tudo bem?", message_id=wa_id, push_name="Ana")
    assert first.status_code == 200, first.text
    assert first.json()["data"]["stored"] == 1
    again = fake.inbound_text(name, phone, "oi, tudo bem?", message_id=wa_id, push_name="Ana")
    assert again.status_code == 200
    assert again.json()["data"]["duplicates"] == 1
    items = conversations(api, token)
    assert len(items) == 1
    conversation = items[0]
    assert conversation["contact_phone"] == phone
    assert conversation["contact_name"] == "Ana"
    assert conversation["status"] == "open"
    assert conversation["unread_count"] == 1
    assert conversation["first_inbound_at"] is not None
    view = api.get(f"/v1/conversations/{conversation['id']}", headers=bearer(token))
    assert view.status_code == 200, view.text
    messages = view.json()["data"]["messages"]
    assert [m["body"] for m in messages] == ["oi, tudo bem?"]
    assert messages[0]["direction"] == "inbound"
    assert messages[0]["sender_kind"] == "customer"
    assert messages[0]["whatsapp_message_id"] == wa_id
    rows = sql(
        stack,
        "SELECT count(*) AS n FROM inbox.messages WHERE whatsapp_message_id = $1",
        wa_id,
    )
    assert rows[0]["n"] == 1
    contacts = sql(
        stack,
        "SELECT count(*) AS n FROM inbox.contacts WHERE tenant_id = $1 AND phone = $2",
        owner["tenant"]["id"],
        phone,
    )
    assert contacts[0]["n"] == 1
    events = sql(
        stack,
        "SELECT subject FROM inbox.outbox WHERE tenant_id = $1 ORDER BY seq",
        owner["tenant"]["id"],
    )
    subjects = [e["subject"] for e in events]
    assert subjects.count("inbox.message.inbound") == 1
    assert subjects.count("inbox.contact.created") == 1
    assert subjects.count("inbox.conversation.created") == 1
    assert "inbox.phone_instance.connected" in subjects


def test_webhook_with_unknown_instance_or_wrong_secret_is_401(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = register(api)
    instance = pair(api, fake, owner["token"])
    name = instance["instance_name"]
    wa_id = new_message_id()
    wrong = fake.post_event(
        name,
        "messages.upsert",
        {
            "key": {"remoteJid": "5511900000000@s.whatsapp.net", "fromMe": False, "id": wa_id},
            "message": {"conversation": "x"},
            "messageTimestamp": int(time.time()),
        },
        headers={"x-plixa-instance-secret": "not-it"},
    )
    assert wrong.status_code == 401
    assert errors_of(wrong)[0]["code"] == "INVALID_WEBHOOK_CREDENTIALS"
    missing = fake.post_event(name, "messages.upsert", {}, headers={})
    assert missing.status_code == 401
    unknown = api.post(
        "/v1/webhooks/evolution/nope-instance",
        json={"event": "messages.upsert", "data": {}},
        headers={"x-plixa-instance-secret": "x"},
    )
    assert unknown.status_code == 401
    rows = sql(
        stack, "SELECT count(*) AS n FROM inbox.messages WHERE whatsapp_message_id = $1", wa_id
    )
    assert rows[0]["n"] == 0


def test_a_number_deleted_elsewhere_is_refused_though_its_key_was_kept(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    """Inbox keeps each number's webhook key in memory; a number deleted by another replica
    (here: straight in the database) must still be refused, and nothing stored."""
    owner = register(api)
    name = pair(api, fake, owner["token"])["instance_name"]
    phone = unique_phone()
    first = fake.inbound_text(name, phone, "oi", message_id=new_message_id())
    assert first.status_code == 200, first.text  # the key is now kept
    sql(stack, "DELETE FROM inbox.phone_instances WHERE instance_name = $1", name)
    wa_id = new_message_id()
    late = fake.inbound_text(name, unique_phone(), "still there?", message_id=wa_id)
    assert late.status_code == 401, late.text
    assert errors_of(late)[0]["code"] == "INVALID_WEBHOOK_CREDENTIALS"
    rows = sql(
        stack, "SELECT count(*) AS n FROM inbox.messages WHERE whatsapp_message_id = $1", wa_id
    )
    assert rows[0]["n"] == 0


def test_a_number_deleted_through_the_api_is_refused_at_once(
    api: httpx.Client, fake: EvolutionFake
) -> None:
    owner = register(api)
    instance = pair(api, fake, owner["token"])
    name = instance["instance_name"]
    assert fake.inbound_text(name, unique_phone(), "oi").status_code == 200
    secret = fake.instances[name].webhook["headers"]["x-plixa-instance-secret"]
    deleted = api.delete(f"/v1/phone-instances/{instance['id']}", headers=bearer(owner["token"]))
    assert deleted.status_code in (200, 204), deleted.text
    wa_id = new_message_id()
    late = api.post(
        f"/v1/webhooks/evolution/{name}",
        json={
            "event": "messages.upsert",
            "instance": name,
            "data": {
                "key": {
                    "remoteJid": f"{unique_phone()}@s.whatsapp.net",
                    "fromMe": False,
                    "id": wa_id,
                },
                "message": {"conversation": "still there?"},
                "messageTimestamp": int(time.time()),
            },
        },
        headers={"x-plixa-instance-secret": secret},
    )
    assert late.status_code == 401, late.text


def test_a_redelivery_to_a_new_number_stores_nothing_not_even_a_conversation(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    """A message already stored under a deleted number, delivered again through the new one:
    its conversation there would be new, but the message is a duplicate, so nothing stays."""
    owner = register(api)
    token = owner["token"]
    old = pair(api, fake, token)
    phone, wa_id = unique_phone(), new_message_id()
    assert fake.inbound_text(old["instance_name"], phone, "oi", message_id=wa_id).status_code == 200
    deleted = api.delete(f"/v1/phone-instances/{old['id']}", headers=bearer(token))
    assert deleted.status_code in (200, 204), deleted.text
    new = pair(api, fake, token)
    again = fake.inbound_text(new["instance_name"], phone, "oi", message_id=wa_id)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["duplicates"] == 1
    on_new = sql(
        stack,
        "SELECT count(*) AS n FROM inbox.conversations WHERE phone_instance_id = $1",
        new["id"],
    )
    assert on_new[0]["n"] == 0
    rows = sql(
        stack, "SELECT count(*) AS n FROM inbox.messages WHERE whatsapp_message_id = $1", wa_id
    )
    assert rows[0]["n"] == 1


def _conversation_of(api: httpx.Client, token: str, phone: str) -> dict[str, Any]:
    found = [c for c in conversations(api, token) if c["contact_phone"] == phone]
    assert len(found) == 1, found
    return found[0]


def _customer_wrote(
    api: httpx.Client, fake: EvolutionFake, text: str, message_id: str | None = None
) -> tuple[dict[str, Any], str, str, dict[str, Any]]:
    """A new workspace with a paired number, and a new customer who wrote `text` to it: the
    owner, the number's instance name, the customer's phone and their conversation."""
    owner = register(api)
    name = pair(api, fake, owner["token"])["instance_name"]
    phone = unique_phone()
    fake.inbound_text(name, phone, text, message_id=message_id)
    return owner, name, phone, _conversation_of(api, owner["token"], phone)


def _messages(api: httpx.Client, token: str, conversation_id: int) -> list[dict[str, Any]]:
    response = api.get(
        f"/v1/conversations/{conversation_id}/messages",
        params={"limit": 100},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_inbound_media_kinds_are_stored_with_trimmed_metadata(
    api: httpx.Client, fake: EvolutionFake
) -> None:
    owner = register(api)
    token = owner["token"]
    name = pair(api, fake, token)["instance_name"]
    phone = unique_phone()
    first_id = new_message_id()
    fake.inbound_text(name, phone, "primeira", message_id=first_id, timestamp=1_730_000_000)
    sends: list[tuple[dict[str, Any], str]] = [
        (
            {
                "imageMessage": {
                    "mimetype": "image/jpeg",
                    "caption": "foto",
                    "fileLength": "52341",
                    "width": 800,
                    "height": 600,
                    "url": "https://mmg.whatsapp.net/x",
                    "jpegThumbnail": "AAAA",
                    "mediaKey": "secret-not-kept",
                },
                "base64": "QUJD" * 1000,
            },
            "imageMessage",
        ),
        (
            {
                "audioMessage": {
                    "mimetype": "audio/ogg; codecs=opus",
                    "seconds": 7,
                    "ptt": True,
                    "waveform": "AAoUHigy",
                }
            },
            "audioMessage",
        ),
        (
            {"videoMessage": {"mimetype": "video/mp4", "seconds": 12, "caption": "v"}},
            "videoMessage",
        ),
        (
            {
                "documentMessage": {
                    "mimetype": "application/pdf",
                    "fileName": "orcamento.pdf",
                    "fileLength": {"low": 2048, "high": 0},
                    "pageCount": 3,
                }
            },
            "documentMessage",
        ),
        (
            {
                "locationMessage": {
                    "degreesLatitude": -23.5,
                    "degreesLongitude": -46.6,
                    "name": "Loja",
                    "address": "Av. Paulista",
                }
            },
            "locationMessage",
        ),
        (
            {
                "contactMessage": {
                    "displayName": "Rui",
                    "vcard": "BEGIN:VCARD\nFN:Rui\nTEL;type=CELL;waid=5511912345678:"
                    "+55 11 91234-5678\nEND:VCARD",
                }
            },
            "contactMessage",
        ),
        ({"reactionMessage": {"key": {"id": first_id}, "text": "👍"}}, "reactionMessage"),
    ]
    for i, (message, kind) in enumerate(sends):
        answer = fake.inbound(name, phone, message, message_type=kind, timestamp=1_730_000_001 + i)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["stored"] == 1
    reply = fake.inbound(
        name,
        phone,
        {"extendedTextMessage": {"text": "respondendo", "contextInfo": {"stanzaId": first_id}}},
        message_type="extendedTextMessage",
        timestamp=1_730_000_100,
        lid=True,  # addressed by LID: the phone comes from remoteJidAlt
    )
    assert reply.status_code == 200
    conversation = _conversation_of(api, token, phone)
    by_type = {m["type"]: m for m in _messages(api, token, conversation["id"])}
    image = by_type["image"]
    assert image["caption"] == "foto"
    assert image["media"]["mimetype"] == "image/jpeg"
    assert image["media"]["size_bytes"] == 52341
    assert image["media"]["thumbnail"] == "AAAA"
    assert "base64" not in str(image["media"]) and "mediaKey" not in str(image["media"])
    audio = by_type["audio"]["media"]
    assert audio["voice"] is True and audio["duration_seconds"] == 7
    assert audio["waveform"] == [0, 10, 20, 30, 40, 50]
    assert by_type["video"]["media"]["duration_seconds"] == 12
    document = by_type["document"]["media"]
    assert document["file_name"] == "orcamento.pdf" and document["size_bytes"] == 2048
    assert document["page_count"] == 3
    location = by_type["location"]["media"]
    assert location["latitude"] == -23.5 and location["location_name"] == "Loja"
    card = by_type["contact"]["media"]
    assert card["contact_display_name"] == "Rui"
    assert card["contact_phones"] == ["5511912345678"]
    reaction = by_type["reaction"]
    assert reaction["media"]["reaction_emoji"] == "👍"
    assert reaction["quoted_whatsapp_id"] == first_id
    quoted = by_type["text"] if by_type["text"]["body"] == "respondendo" else None
    replies = [m for m in _messages(api, token, conversation["id"]) if m["body"] == "respondendo"]
    assert replies and replies[0]["quoted_whatsapp_id"] == first_id
    assert replies[0]["quoted_message_id"] is not None
    del quoted


def test_out_of_order_deliveries_are_ordered_by_whatsapp_time(
    api: httpx.Client, fake: EvolutionFake
) -> None:
    owner = register(api)
    token = owner["token"]
    name = pair(api, fake, token)["instance_name"]
    phone = unique_phone()
    now = int(time.time())
    fake.inbound_text(name, phone, "second", timestamp=now)
    fake.inbound_text(name, phone, "first", timestamp=now - 60)
    conversation = _conversation_of(api, token, phone)
    assert conversation["last_message_text"] == "second"
    assert [m["body"] for m in _messages(api, token, conversation["id"])] == ["second", "first"]


def test_a_burst_for_a_new_customer_makes_one_contact_and_one_conversation(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = register(api)
    token = owner["token"]
    name = pair(api, fake, token)["instance_name"]
    phone = unique_phone()
    ids = [new_message_id() for _ in range(12)]
    # 12 distinct messages, each delivered twice, all at once.
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(
            pool.map(lambda wa_id: fake.inbound_text(name, phone, wa_id, message_id=wa_id), ids * 2)
        )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sum(a.json()["data"]["stored"] for a in answers) == 12
    tenant = owner["tenant"]["id"]
    counts = sql(
        stack,
        "SELECT (SELECT count(*) FROM inbox.contacts WHERE tenant_id = $1) AS contacts,"
        " (SELECT count(*) FROM inbox.conversations WHERE tenant_id = $1) AS conversations,"
        " (SELECT count(*) FROM inbox.messages WHERE tenant_id = $1) AS messages,"
        " (SELECT count(*) FROM inbox.outbox WHERE tenant_id = $1"
        "  AND subject = 'inbox.message.inbound') AS events",
        tenant,
    )[0]
    assert dict(counts) == {"contacts": 1, "conversations": 1, "messages": 12, "events": 12}
    assert _conversation_of(api, token, phone)["unread_count"] == 12


def test_reply_is_sent_then_receipts_move_it_forward_never_back(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    customer_id = new_message_id()
    owner, name, phone, conversation = _customer_wrote(
        api, fake, "quanto custa?", message_id=customer_id
    )
    token = owner["token"]
    inbound = _messages(api, token, conversation["id"])[0]
    sent = api.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"body": "R$ 50", "type": "text", "quoted_message_id": inbound["id"]},
        headers=bearer(token),
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()["data"]
    assert message["status"] == "sent"
    assert message["sender_kind"] == "member"
    assert message["sender_user_id"] == owner["user"]["id"]
    assert message["quoted_message_id"] == inbound["id"]
    request = fake.sent(name)[-1]
    assert request.path == f"/message/sendText/{name}"
    assert request.body["number"] == phone and request.body["text"] == "R$ 50"
    assert request.body["quoted"]["key"]["id"] == customer_id
    assert request.headers["apikey"] == fake.instances[name].token
    after = _conversation_of(api, token, phone)
    assert after["handler"] == "human"
    assert after["first_response_at"] is not None
    assert after["unread_count"] == 0
    wa_id = message["whatsapp_message_id"]
    for status in ("DELIVERY_ACK", "READ", "DELIVERY_ACK", "SERVER_ACK"):
        assert fake.receipt(name, wa_id, status, phone).status_code == 200
    final = next(m for m in _messages(api, token, conversation["id"]) if m["id"] == message["id"])
    assert final["status"] == "read"
    assert final["delivered_at"] is not None and final["read_at"] is not None
    subjects = [
        r["subject"]
        for r in sql(
            stack,
            "SELECT subject FROM inbox.outbox WHERE tenant_id = $1 ORDER BY seq",
            owner["tenant"]["id"],
        )
    ]
    assert subjects.count("inbox.message.outbound") == 1
    assert subjects.count("inbox.message.status_changed") == 3  # sent, delivered, read


def test_receipts_posted_before_the_send_is_answered_are_applied_once_it_is(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    """Evolution may post DELIVERY_ACK and READ before it answers the send itself (so before we
    stored the WhatsApp id): they are kept and applied when the id is stored, not dropped."""
    owner, name, _phone, conversation = _customer_wrote(api, fake, "chegou?")
    token = owner["token"]
    with fake.lock:
        fake.receipts_before_answer = ["DELIVERY_ACK", "READ"]
    try:
        sent = api.post(
            f"/v1/conversations/{conversation['id']}/messages",
            json={"body": "Sim!", "type": "text"},
            headers=bearer(token),
        )
    finally:
        with fake.lock:
            fake.receipts_before_answer = []
    assert sent.status_code == 201, sent.text
    message = sent.json()["data"]
    assert message["status"] == "read", message  # the send's answer already shows them
    assert message["delivered_at"] is not None and message["read_at"] is not None
    stored = next(m for m in _messages(api, token, conversation["id"]) if m["id"] == message["id"])
    assert stored["status"] == "read"
    tenant_id = owner["tenant"]["id"]
    kept = sql(stack, "SELECT count(*) FROM inbox.early_receipts WHERE tenant_id = $1", tenant_id)
    assert kept[0][0] == 0  # claimed by the send
    # A receipt of an inbound message (not ours) is never kept.
    fake.post_event(
        name,
        "messages.update",
        {"keyId": new_message_id(), "fromMe": False, "status": "READ", "instanceId": "x"},
    )
    kept = sql(stack, "SELECT count(*) FROM inbox.early_receipts WHERE tenant_id = $1", tenant_id)
    assert kept[0][0] == 0


def test_the_sweep_sends_what_was_never_handed_over_and_fails_what_may_have_been(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    """After a crash: a send committed but never handed to Evolution is delivered by the sweep;
    one handed over whose outcome was never recorded is failed (it may have reached the
    customer), never sent a second time."""
    owner, name, _phone, conversation = _customer_wrote(api, fake, "oi")
    token = owner["token"]
    fake.fail("/message/", status=500, times=2)
    ids = {}
    for text in ("never handed", "handed, then the crash"):
        failed = api.post(
            f"/v1/conversations/{conversation['id']}/messages",
            json={"body": text, "type": "text"},
            headers=bearer(token),
        )
        assert failed.status_code == 201 and failed.json()["data"]["status"] == "failed"
        ids[text] = failed.json()["data"]["id"]
    # The states a crash leaves (written as the process would have, minutes ago).
    sql(
        stack,
        "UPDATE inbox.messages SET status = 'pending', failure_reason = NULL, handed_at = NULL,"
        " updated_at = now() - interval '5 minutes' WHERE id = $1",
        ids["never handed"],
    )
    sql(
        stack,
        "UPDATE inbox.messages SET status = 'pending', failure_reason = NULL,"
        " handed_at = now() - interval '5 minutes', updated_at = now() - interval '5 minutes'"
        " WHERE id = $1",
        ids["handed, then the crash"],
    )

    def settled() -> dict[str, dict[str, Any]] | None:
        listed = {m["id"]: m for m in _messages(api, token, conversation["id"])}
        found = {text: listed[i] for text, i in ids.items()}
        return None if any(m["status"] == "pending" for m in found.values()) else found

    found = poll(settled)
    assert found, "the sweep never settled the crashed sends"
    assert found["never handed"]["status"] == "sent"
    unconfirmed = found["handed, then the crash"]
    assert (unconfirmed["status"], unconfirmed["failure_reason"]) == (
        "failed",
        "delivery_unconfirmed",
    )
    texts = [r.body.get("text") for r in fake.sent(name)]
    assert texts.count("never handed") == 2  # the refused try, then the sweep's
    assert texts.count("handed, then the crash") == 1  # only the refused try
    # The team may still send it again, deliberately.
    again = api.post(f"/v1/messages/{ids['handed, then the crash']}/retry", headers=bearer(token))
    assert again.status_code == 200 and again.json()["data"]["status"] == "sent", again.text
    assert [r.body.get("text") for r in fake.sent(name)].count("handed, then the crash") == 2


def test_evolution_down_leaves_a_failed_message_and_retry_sends_it(
    api: httpx.Client, fake: EvolutionFake
) -> None:
    owner, name, _phone, conversation = _customer_wrote(api, fake, "oi")
    token = owner["token"]
    fake.fail(f"/message/sendText/{name}", 500)
    sent = api.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"body": "olá"},
        headers=bearer(token),
    )
    assert sent.status_code == 201, sent.text
    failed = sent.json()["data"]
    assert failed["status"] == "failed"
    assert failed["failure_reason"]
    listed = [m for m in _messages(api, token, conversation["id"]) if m["id"] == failed["id"]]
    assert listed[0]["status"] == "failed"
    retried = api.post(f"/v1/messages/{failed['id']}/retry", headers=bearer(token))
    assert retried.status_code == 200, retried.text
    assert retried.json()["data"]["status"] == "sent"
    again = api.post(f"/v1/messages/{failed['id']}/retry", headers=bearer(token))
    assert again.status_code == 409
    assert errors_of(again)[0]["code"] == "MESSAGE_NOT_FAILED"
    # A number not on WhatsApp: Evolution's 400 becomes the reason.
    fake.inbound_text(name, "0001234567", "x")
    odd = _conversation_of(api, token, "0001234567")
    refused = api.post(
        f"/v1/conversations/{odd['id']}/messages", json={"body": "hi"}, headers=bearer(token)
    )
    assert refused.json()["data"]["failure_reason"] == "number_not_on_whatsapp"


def test_slow_evolution_still_answers_within_the_timeout(
    api: httpx.Client, fake: EvolutionFake
) -> None:
    owner, _name, _phone, conversation = _customer_wrote(api, fake, "oi")
    token = owner["token"]
    fake.delay_seconds = 0.5
    try:
        sent = api.post(
            f"/v1/conversations/{conversation['id']}/messages",
            json={"body": "devagar"},
            headers=bearer(token),
        )
    finally:
        fake.delay_seconds = 0.0
    assert sent.status_code == 201
    assert sent.json()["data"]["status"] == "sent"


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154"
    "789c6360000002000154a24f5d0000000049454e44ae426082"
)


def test_media_messages_are_checked_and_sent(api: httpx.Client, fake: EvolutionFake) -> None:
    owner, name, _phone, conversation = _customer_wrote(api, fake, "manda a foto")
    token = owner["token"]
    path = f"/v1/conversations/{conversation['id']}/media-messages"
    image = api.post(
        path,
        files={"file": ("foto.png", PNG, "image/png")},
        data={"caption": "aqui"},
        headers=bearer(token),
    )
    assert image.status_code == 201, image.text
    body = image.json()["data"]
    assert body["type"] == "image" and body["caption"] == "aqui" and body["status"] == "sent"
    assert body["media"]["mimetype"] == "image/png" and body["media"]["size_bytes"] == len(PNG)
    request = fake.sent(name)[-1]
    assert request.path == f"/message/sendMedia/{name}"
    assert request.body["mediatype"] == "image" and request.body["caption"] == "aqui"
    ogg = b"OggS" + b"\0" * 200
    voice = api.post(
        path,
        files={"file": ("voz.ogg", ogg, "audio/ogg")},
        data={"voice": "1", "duration_seconds": "5", "waveform[]": ["7", "40", "99"]},
        headers=bearer(token),
    )
    assert voice.status_code == 201, voice.text
    note = voice.json()["data"]
    assert note["type"] == "audio"
    assert note["media"]["voice"] is True and note["media"]["waveform"] == [7, 40, 99]
    assert note["media"]["duration_seconds"] == 5
    assert fake.sent(name)[-1].path == f"/message/sendWhatsAppAudio/{name}"
    gif = api.post(
        path, files={"file": ("a.gif", b"GIF89a" + b"\0" * 20, "image/gif")}, headers=bearer(token)
    )
    assert gif.status_code == 415
    assert errors_of(gif)[0]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    big = api.post(
        path,
        files={"file": ("big.png", PNG + b"\0" * (5 * 1024 * 1024), "image/png")},
        headers=bearer(token),
    )
    assert big.status_code == 413
    assert errors_of(big)[0]["code"] == "MEDIA_TOO_LARGE"
    not_voice = api.post(
        path,
        files={"file": ("foto.png", PNG, "image/png")},
        data={"voice": "1"},
        headers=bearer(token),
    )
    assert not_voice.status_code == 422
    # A failed media send keeps its file for the retry.
    fake.fail(f"/message/sendMedia/{name}", 503)
    failed = api.post(path, files={"file": ("foto.png", PNG, "image/png")}, headers=bearer(token))
    assert failed.json()["data"]["status"] == "failed"
    retried = api.post(f"/v1/messages/{failed.json()['data']['id']}/retry", headers=bearer(token))
    assert retried.json()["data"]["status"] == "sent"
    assert fake.sent(name)[-1].body["media"]


def test_onboarding_steps_follow_pairing_and_the_first_reply(
    api: httpx.Client, fake: EvolutionFake
) -> None:
    owner = register(api)
    token = owner["token"]

    def steps() -> dict[str, bool]:
        answer = api.get("/v1/onboarding", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        return {s["key"]: s["done"] for s in answer.json()["data"]["steps"]}

    assert steps()["phone_connected"] is False
    name = pair(api, fake, token)["instance_name"]
    phone = unique_phone()
    fake.inbound_text(name, phone, "oi")
    assert steps()["phone_connected"] is True
    assert steps()["first_reply_sent"] is False
    conversation = _conversation_of(api, token, phone)
    api.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"body": "olá"},
        headers=bearer(token),
    )
    assert steps()["first_reply_sent"] is True


def test_closed_or_snoozed_conversations_come_back_and_phone_sends_are_outbound(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner, name, phone, conversation = _customer_wrote(api, fake, "oi")
    token = owner["token"]
    path = f"/v1/conversations/{conversation['id']}"
    closed = api.patch(path, json={"status": "closed"}, headers=bearer(token))
    assert closed.json()["data"]["status"] == "closed"
    fake.inbound_text(name, phone, "voltei")
    reopened = api.get(path, headers=bearer(token)).json()["data"]["conversation"]
    assert reopened["status"] == "open" and reopened["closed_at"] is None
    api.post(f"{path}/snooze", json={"until": "2099-01-01T00:00:00Z"}, headers=bearer(token))
    fake.inbound_text(name, phone, "alô?")
    assert (
        api.get(path, headers=bearer(token)).json()["data"]["conversation"]["snoozed_until"] is None
    )
    # Sent from the phone itself: stored as outbound, not echoed back to Evolution.
    before = len(fake.sent(name))
    fake.inbound_text(name, phone, "respondi pelo celular", from_me=True, push_name="Loja")
    messages = _messages(api, token, conversation["id"])
    assert messages[0]["body"] == "respondi pelo celular"
    assert messages[0]["direction"] == "outbound" and messages[0]["status"] == "sent"
    assert len(fake.sent(name)) == before
    assert _conversation_of(api, token, phone)["contact_name"] == "Ana"  # not the shop's name
    event = sql(
        stack,
        "SELECT payload FROM inbox.outbox WHERE subject = 'inbox.conversation.updated'"
        " AND tenant_id = $1 ORDER BY seq",
        owner["tenant"]["id"],
    )
    reasons = [events_pb2.ConversationChanged.FromString(r["payload"]) for r in event]
    assert any("status" in e.changed and e.conversation.status == "open" for e in reasons)


def test_external_send_refuses_a_read_only_token(
    api: httpx.Client, fake: EvolutionFake, stack: Stack
) -> None:
    owner = business_owner(api, stack)
    token = owner["token"]
    pair(api, fake, token)
    minted = api.post(
        "/v1/api-tokens", json={"name": "crm", "abilities": ["read"]}, headers=bearer(token)
    )
    assert minted.status_code == 201, minted.text
    read_only = minted.json()["data"]["token"]
    refused = api.post(
        "/v1/messages/send", json={"phone": unique_phone(), "body": "x"}, headers=bearer(read_only)
    )
    assert refused.status_code == 403
    writer = api.post(
        "/v1/api-tokens",
        json={"name": "crm2", "abilities": ["read", "write"]},
        headers=bearer(token),
    ).json()["data"]["token"]
    sent = api.post(
        "/v1/messages/send", json={"phone": unique_phone(), "body": "x"}, headers=bearer(writer)
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["data"]["message"]["sender_kind"] == "system"
