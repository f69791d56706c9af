"""Customer webhooks end to end: endpoints through the gateway, inbox's events on JetStream, a
local receiver that verifies what it gets as a customer would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import bearer, error_fields, errors_of, sql
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.test_notifications_support import (  # noqa: F401  (fixtures)
    Notifications,
    Workspace,
    api_fixture,
    create_endpoint,
    deliveries,
    inbound,
    notif_fixture,
    publish,
    verify_plixa,
    verify_standard,
    workspace,
)
from tests.test_team import join
from tests.waiting import wait_until


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    try:
        yield found
    finally:
        found.stop()


def test_a_message_arrives_and_the_receiver_gets_one_signed_delivery(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url + "/hooks/plixa")
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["status"] == "active"
    assert endpoint["events"] == ["message.inbound"]

    event = inbound(ws.tenant_id)
    event_id = publish(notif.stack, "inbox.message.inbound", event)
    got = wait_until(receiver.deliveries, what="a delivery")[0]

    assert got.path == "/hooks/plixa"
    assert verify_plixa(secret, got.body, got.headers["x-plixa-signature"])
    assert verify_standard(secret, got.headers, got.body)
    assert not verify_plixa("whsec_someone-else", got.body, got.headers["x-plixa-signature"])
    body = got.json()
    assert body["id"] == got.headers["webhook-id"] == "evt_" + event_id.replace("-", "")
    assert body["type"] == "message.inbound" and body["tenant_id"] == ws.tenant_id
    assert body["created_at"].endswith("Z")
    data = body["data"]
    assert data["conversation_id"] == event.conversation_id  # a JSON number
    assert data["message"]["body"] == "Olá, vocês abrem amanhã?"
    assert data["contact_phone"] == "5511987654321" and "tenant_id" not in data

    # Redelivered by JetStream (same event id): nothing more is sent.
    publish(notif.stack, "inbox.message.inbound", event, event_id=event_id)
    listed = wait_until(
        lambda: [d for d in deliveries(api, ws.token, endpoint["id"]) if d["status"] == "succeeded"]
    )
    time.sleep(0.5)
    assert len(receiver.deliveries()) == 1
    assert len(listed) == 1 and listed[0]["attempts"] == 1
    detail = api.get(f"/v1/webhook-deliveries/{listed[0]['id']}", headers=bearer(ws.token))
    assert detail.status_code == 200
    delivery = detail.json()["data"]
    assert delivery["payload"] == got.body.decode()
    assert [a["status_code"] for a in delivery["attempt_log"]] == [200]
    assert delivery["attempt_log"][0]["response_body"].startswith('{"ok":true')


def test_the_secret_is_shown_once_and_encrypted_at_rest(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(
        api, ws.token, receiver.url, ["message.inbound", "conversation.created"]
    )
    read = api.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(ws.token)).json()[
        "data"
    ]
    assert read["secret"] is None
    listed = api.get("/v1/webhook-endpoints", headers=bearer(ws.token)).json()["data"]
    assert [e["secret"] for e in listed] == [None]
    [row] = sql(
        notif.stack,
        "SELECT secret_sealed FROM notifications.endpoints WHERE id = $1",
        endpoint["id"],
    )
    assert endpoint["secret"] not in row["secret_sealed"]
    assert endpoint["secret"].removeprefix("whsec_") not in row["secret_sealed"]
    types = api.get("/v1/webhook-endpoints/event-types", headers=bearer(ws.token)).json()["data"]
    assert "message.inbound" in [t["type"] for t in types]


def test_a_receiver_down_then_recovering_gets_the_delivery_and_the_log_shows_each_try(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url)
    receiver.mode = "fail"
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    wait_until(lambda: len(receiver.deliveries()) >= 2, what="two failed tries")
    receiver.mode = "ok"
    [delivery] = wait_until(
        lambda: [d for d in deliveries(api, ws.token, endpoint["id"]) if d["status"] == "succeeded"]
    )
    got = receiver.deliveries()
    assert len({r.headers["webhook-id"] for r in got}) == 1  # stable across retries
    assert len({r.body for r in got}) == 1
    log = api.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=bearer(ws.token)).json()[
        "data"
    ]
    codes = [a["status_code"] for a in log["attempt_log"]]
    assert codes[-1] == 200 and set(codes[:-1]) == {500} and len(codes) == len(got)
    assert [a["number"] for a in log["attempt_log"]] == list(range(1, len(codes) + 1))
    assert log["attempts"] == len(codes)


def test_a_spent_schedule_fails_and_a_manual_retry_sends_the_same_payload(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url)
    receiver.mode = "fail"
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    [failed] = wait_until(
        lambda: [d for d in deliveries(api, ws.token, endpoint["id"]) if d["status"] == "failed"]
    )
    assert failed["attempts"] == 5  # the first try and the four retries of the schedule
    assert len(receiver.deliveries()) == 5
    receiver.mode = "ok"
    retried = api.post(f"/v1/webhook-deliveries/{failed['id']}/retry", headers=bearer(ws.token))
    assert retried.status_code == 200, retried.text
    assert retried.json()["data"]["attempts"] == 0
    assert retried.json()["data"]["status"] == "pending"
    wait_until(
        lambda: [d for d in deliveries(api, ws.token, endpoint["id"]) if d["status"] == "succeeded"]
    )
    got = receiver.deliveries()
    assert len(got) == 6 and got[-1].body == got[0].body
    assert got[-1].headers["webhook-id"] == got[0].headers["webhook-id"]
    again = api.post(f"/v1/webhook-deliveries/{failed['id']}/retry", headers=bearer(ws.token))
    assert again.status_code == 409
    assert errors_of(again)[0]["code"] == "DELIVERY_NOT_FAILED"


def test_410_gone_disables_the_endpoint_and_tells_the_owner(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url + "/gone")
    receiver.mode = "gone"
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))

    def disabled() -> dict[str, object] | None:
        read = api.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(ws.token))
        data = read.json()["data"]
        return data if data["status"] == "disabled" else None

    data = wait_until(disabled, what="the endpoint disabled")
    assert data["disabled_reason"] == "gone" and data["disabled_at"]
    wait_until(
        lambda: all(d["status"] == "failed" for d in deliveries(api, ws.token, endpoint["id"]))
    )
    mail = wait_until(
        lambda: [m for m in notif.email.emails() if m["to"] == [ws.email]], what="the owner's email"
    )[0]
    assert "disabled" in mail["subject"] and "/gone" in mail["text"] and mail["html"]
    # Enabled again by the owner: new events are delivered.
    receiver.mode = "ok"
    enabled = api.put(
        f"/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(ws.token), json={"enabled": True}
    )
    assert enabled.status_code == 200 and enabled.json()["data"]["status"] == "active"
    before = len(receiver.deliveries())
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    wait_until(lambda: len(receiver.deliveries()) > before)


def test_rotation_sends_both_signatures_during_the_overlap(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url)
    old = endpoint["secret"]
    rotated = api.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=bearer(ws.token)
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["data"]["secret"]
    assert new.startswith("whsec_") and new != old
    assert rotated.json()["data"]["previous_secret_expires_at"]
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    got = wait_until(receiver.deliveries)[0]
    assert len(got.headers["x-plixa-signature"].split(",")) == 2
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert verify_plixa(secret, got.body, got.headers["x-plixa-signature"])
        assert verify_standard(secret, got.headers, got.body)


def test_the_test_ping_answers_status_and_latency(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url)
    tested = api.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=bearer(ws.token))
    assert tested.status_code == 200, tested.text
    result = tested.json()["data"]
    assert result["ok"] is True and result["status_code"] == 200 and result["latency_ms"] >= 0
    [got] = receiver.deliveries()
    assert got.json()["type"] == "ping" and got.headers["webhook-id"] == result["webhook_id"]
    assert verify_plixa(endpoint["secret"], got.body, got.headers["x-plixa-signature"])
    receiver.mode = "fail"
    failing = api.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=bearer(ws.token))
    assert failing.json()["data"]["ok"] is False and failing.json()["data"]["status_code"] == 500


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "http://[fd00:ec2::254]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
        "not a url",
    ],
)
def test_private_and_odd_addresses_are_refused(
    api: httpx.Client, notif: Notifications, url: str
) -> None:
    ws = _shared_workspace(api, notif)
    response = api.post(
        "/v1/webhook-endpoints",
        headers=bearer(ws.token),
        json={"url": url, "events": ["message.inbound"]},
    )
    assert response.status_code == 422, response.text
    assert error_fields(response) == {"url"}


_shared: dict[str, Workspace] = {}


def _shared_workspace(api: httpx.Client, notif: Notifications) -> Workspace:
    if "ws" not in _shared:
        _shared["ws"] = workspace(api, notif)
    return _shared["ws"]


def test_input_is_validated(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = _shared_workspace(api, notif)
    cases = [
        ({"url": receiver.url, "events": ["message.exploded"]}, "events"),
        ({"url": receiver.url, "events": []}, "events"),
        ({"url": "", "events": ["message.inbound"]}, "url"),
        ({"events": ["message.inbound"]}, "url"),
        ({"url": receiver.url, "events": ["message.inbound"], "secret": "mine"}, "secret"),
        ({"url": receiver.url + "/" + "a" * 2100, "events": ["message.inbound"]}, "url"),
    ]
    for body, field in cases:
        response = api.post("/v1/webhook-endpoints", headers=bearer(ws.token), json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in error_fields(response), (body, response.text)
    endpoint = create_endpoint(api, ws.token, receiver.url)
    for body, field in [
        ({"url": "http://10.0.0.1/"}, "url"),
        ({"events": ["nope"]}, "events"),
        ({"enabled": None}, "enabled"),
        ({"secret": "x"}, "secret"),
    ]:
        response = api.put(
            f"/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(ws.token), json=body
        )
        assert response.status_code == 422, (body, response.text)
        assert field in error_fields(response), (body, response.text)
    bad_status = api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries?status=lost", headers=bearer(ws.token)
    )
    assert bad_status.status_code == 422


def test_another_tenant_weaker_roles_and_plans_are_refused(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url)
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    [delivery] = wait_until(lambda: deliveries(api, ws.token, endpoint["id"]))
    other = workspace(api, notif)
    for method, path in [
        ("GET", f"/v1/webhook-endpoints/{endpoint['id']}"),
        ("PUT", f"/v1/webhook-endpoints/{endpoint['id']}"),
        ("DELETE", f"/v1/webhook-endpoints/{endpoint['id']}"),
        ("POST", f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"),
        ("POST", f"/v1/webhook-endpoints/{endpoint['id']}/test"),
        ("GET", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"),
        ("GET", f"/v1/webhook-deliveries/{delivery['id']}"),
        ("POST", f"/v1/webhook-deliveries/{delivery['id']}/retry"),
    ]:
        body = {"description": "mine now"} if method == "PUT" else None
        response = api.request(method, path, headers=bearer(other.token), json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert api.get("/v1/webhook-endpoints", headers=bearer(other.token)).json()["data"] == []
    # The other tenant's events never reach this endpoint.
    publish(notif.stack, "inbox.message.inbound", inbound(other.tenant_id))
    time.sleep(0.5)
    assert len(deliveries(api, ws.token, endpoint["id"])) == 1

    agent = join(api, ws.token)
    refused = api.get("/v1/webhook-endpoints", headers=bearer(agent["token"]))
    assert refused.status_code == 403
    starter = workspace(api, notif, plan="starter")

    def refused_for_starter() -> httpx.Response | None:
        found = api.get("/v1/webhook-endpoints", headers=bearer(starter.token))
        return found if found.status_code == 403 else None

    response = wait_until(refused_for_starter, what="the starter plan refused")
    assert errors_of(response)[0]["code"] == "PLAN_FEATURE_REQUIRED"
    assert api.get("/v1/webhook-endpoints").status_code == 401


def test_update_and_delete(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url)
    updated = api.put(
        f"/v1/webhook-endpoints/{endpoint['id']}",
        headers=bearer(ws.token),
        json={"events": ["conversation.created", "message.inbound"], "description": " CRM "},
    )
    assert updated.status_code == 200, updated.text
    data = updated.json()["data"]
    assert data["events"] == ["message.inbound", "conversation.created"]
    assert data["description"] == "CRM" and data["url"] == receiver.url and data["secret"] is None
    off = api.put(
        f"/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(ws.token), json={"enabled": False}
    )
    assert off.json()["data"]["status"] == "disabled"
    assert off.json()["data"]["disabled_reason"] == "owner"
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    time.sleep(0.5)
    assert receiver.deliveries() == [] and deliveries(api, ws.token, endpoint["id"]) == []
    gone = api.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(ws.token))
    assert gone.status_code == 204
    again = api.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(ws.token))
    assert again.status_code == 404


def test_a_parallel_burst_is_delivered_once_each_in_order_per_endpoint(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    create_endpoint(api, ws.token, receiver.url + "/a")
    create_endpoint(api, ws.token, receiver.url + "/b")
    events = [inbound(ws.tenant_id, text=f"message {i}") for i in range(30)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda e: publish(notif.stack, "inbox.message.inbound", e), events))
    wait_until(lambda: len(receiver.deliveries()) >= 60, what="60 deliveries")
    time.sleep(0.3)
    got = receiver.deliveries()
    assert len(got) == 60
    for path in ("/a", "/b"):
        texts = [r.json()["data"]["message"]["body"] for r in got if r.path == path]
        assert sorted(texts) == sorted(f"message {i}" for i in range(30))


def test_a_restart_in_the_middle_loses_nothing(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    ws = workspace(api, notif)
    endpoint = create_endpoint(api, ws.token, receiver.url)
    receiver.mode = "fail"
    publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    wait_until(lambda: len(receiver.deliveries()) >= 1)
    notif.stack.processes["notifications"].kill()  # mid-schedule, no goodbye
    for _ in range(3):
        publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    receiver.mode = "ok"
    notif.stack.start_service("notifications")
    wait_until(
        lambda: (
            len(
                [d for d in deliveries(api, ws.token, endpoint["id"]) if d["status"] == "succeeded"]
            )
            == 4
        ),
        timeout=30,
        what="every delivery after the restart",
    )
    ids = {r.headers["webhook-id"] for r in receiver.deliveries()}
    assert len(ids) == 4
    bodies = [json.loads(r.body)["id"] for r in receiver.deliveries()]
    assert set(bodies) == ids


def test_appointment_events_are_delivered(
    api: httpx.Client, notif: Notifications, receiver: WebhookReceiver
) -> None:
    from plixa.scheduling.v1 import events_pb2

    ws = workspace(api, notif)
    endpoint = create_endpoint(
        api, ws.token, receiver.url, ["appointment.created", "appointment.cancelled"]
    )
    appointment = events_pb2.AppointmentSnapshot(
        id=501,
        tenant_id=ws.tenant_id,
        service_id=3,
        service_name="Corte",
        provider_id=ws.user_id,
        timezone="America/Sao_Paulo",
        status="confirmed",
        source="ai",
    )
    appointment.start_at.GetCurrentTime()
    appointment.end_at.GetCurrentTime()
    created = events_pb2.AppointmentCreated(appointment=appointment)
    publish(notif.stack, "scheduling.appointment.created", created)
    publish(
        notif.stack,
        "scheduling.appointment.updated",
        events_pb2.AppointmentUpdated(appointment=appointment, change="details"),
    )  # not subscribed
    publish(
        notif.stack,
        "scheduling.appointment.cancelled",
        events_pb2.AppointmentCancelled(appointment=appointment, reason="customer"),
    )
    wait_until(lambda: len(receiver.deliveries()) >= 2, what="two appointment deliveries")
    time.sleep(0.3)
    got = {r.json()["type"]: r for r in receiver.deliveries()}
    assert len(receiver.deliveries()) == 2  # once each, and nothing for the unsubscribed type
    assert sorted(got) == ["appointment.cancelled", "appointment.created"]
    # In event order in the log. Arrival order is not asserted: both were due together, and an
    # endpoint takes several deliveries at once (PLIXA_WEBHOOK_ENDPOINT_CONCURRENCY).
    logged = wait_until(
        lambda: (
            [
                d["event_type"]
                for d in deliveries(api, ws.token, endpoint["id"])  # newest first
                if d["status"] == "succeeded"
            ]
            == ["appointment.cancelled", "appointment.created"]
        ),
        what="both deliveries recorded as succeeded",
    )
    assert logged
    created = got["appointment.created"]
    first = created.json()
    assert first["data"]["appointment"]["id"] == 501
    assert first["data"]["appointment"]["service_name"] == "Corte"
    assert verify_plixa(endpoint["secret"], created.body, created.headers["x-plixa-signature"])
