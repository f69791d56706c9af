"""Support tickets through the gateway: a member opens one, staff triage it (priority, assign,
tags, status, viewing presence), reply, and the member closes and rates it; the events and the
audit log follow. Tickets belong to the workspace: another workspace sees none of them."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from scripts.mesh import Stack
from tests.conftest import bearer, errors_of, register, sql
from tests.fakes.push_service import PushService
from tests.test_backoffice_tenants import audit, in_directory, staff  # noqa: F401
from tests.test_staff import enrol, new_staff
from tests.waiting import PATIENCE_SECONDS


@pytest.fixture(scope="module")
def second_staff(gateway_url: str, stack: Stack) -> dict[str, Any]:
    email = new_staff(stack)
    with httpx.Client(base_url=gateway_url, timeout=15) as api:
        enrolled = enrol(api, email)
    staff_id = int(sql(stack, "SELECT id FROM identity.staff WHERE email = $1", email)[0][0])
    return {"token": enrolled.token, "id": staff_id}


def events(stack: Stack, subject: str, ticket_id: int) -> list[Any]:
    from plixa.backoffice.v1 import events_pb2

    kind = events_pb2.TicketCreated if subject.endswith("created") else events_pb2.TicketReplied
    rows = sql(
        stack, "SELECT payload FROM backoffice.outbox WHERE subject = $1 ORDER BY seq", subject
    )
    found = [kind.FromString(bytes(r["payload"])) for r in rows]
    return [e for e in found if e.ticket_id == ticket_id]


def open_ticket(api: httpx.Client, token: str, **body: Any) -> dict[str, Any]:
    payload = {"subject": "WhatsApp disconnected", "body": "Our number keeps dropping.", **body}
    response = api.post("/v1/support/tickets", headers=bearer(token), json=payload)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_the_ticket_round_trip_with_rating(
    api: httpx.Client,
    stack: Stack,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    owner = register(api)
    member, admin = bearer(owner["token"]), bearer(staff["token"])
    ticket = open_ticket(api, owner["token"], priority="high")
    tid = ticket["id"]
    assert (ticket["status"], ticket["priority"], ticket["tenant_id"]) == (
        "open",
        "high",
        owner["tenant"]["id"],
    )
    assert [m["author_kind"] for m in ticket["messages"]] == ["member"]
    (created,) = events(stack, "backoffice.ticket.created", tid)
    assert created.tenant_id == owner["tenant"]["id"] and created.subject == ticket["subject"]

    listed = api.get(
        "/v1/admin/support/tickets", headers=admin, params={"tenant_id": ticket["tenant_id"]}
    )
    assert [t["id"] for t in listed.json()["data"]] == [tid]
    assert tid in [
        t["id"]
        for t in api.get(
            "/v1/admin/support/tickets", headers=admin, params={"priority": "high", "limit": 100}
        ).json()["data"]
    ]

    assert (
        api.post(
            f"/v1/admin/support/tickets/{tid}/priority", headers=admin, json={"priority": "urgent"}
        ).json()["data"]["priority"]
        == "urgent"
    )
    assigned = api.post(
        f"/v1/admin/support/tickets/{tid}/assign", headers=admin, json={"admin_id": staff["id"]}
    )
    assert assigned.json()["data"]["assignee_staff_id"] == staff["id"]
    mine = api.get(
        "/v1/admin/support/tickets", headers=admin, params={"assignee_staff_id": staff["id"]}
    ).json()["data"]
    assert tid in [t["id"] for t in mine]

    reply = api.post(
        f"/v1/admin/support/tickets/{tid}/messages",
        headers=admin,
        json={"body": "Restart the instance, please."},
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["data"]["author_kind"] == "staff"
    assert reply.json()["data"]["author_id"] == staff["id"]
    (replied,) = [
        e for e in events(stack, "backoffice.ticket.replied", tid) if e.author_kind == "staff"
    ]
    assert replied.customer_email == owner["user"]["email"]
    # Our notifications service emails the reply to the customer, through its email provider.
    assert stack.email is not None
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not (mails := [m for m in stack.email.emails() if owner["user"]["email"] in m["to"]]):
        assert time.monotonic() < deadline, "the staff reply was never emailed"
        time.sleep(0.2)
    (mail,) = mails
    assert "Restart the instance, please." in (mail.get("text") or mail.get("html") or "")
    assert mail["idempotency_key"]

    seen = api.get(f"/v1/support/tickets/{tid}", headers=member).json()["data"]
    assert seen["status"] == "pending"
    assert [m["body"] for m in seen["messages"]][-1] == "Restart the instance, please."

    early = api.post(f"/v1/support/tickets/{tid}/rating", headers=member, json={"rating": 5})
    assert early.status_code == 409 and errors_of(early)[0]["code"] == "TICKET_NOT_CLOSED"
    answer = api.post(
        f"/v1/support/tickets/{tid}/messages", headers=member, json={"body": "Thanks"}
    )
    assert answer.status_code == 201
    assert api.get(f"/v1/support/tickets/{tid}", headers=member).json()["data"]["status"] == "open"

    closed = api.post(f"/v1/support/tickets/{tid}/close", headers=member)
    assert closed.json()["data"]["status"] == "closed" and closed.json()["data"]["closed_at"]
    late = api.post(f"/v1/support/tickets/{tid}/messages", headers=member, json={"body": "x"})
    assert late.status_code == 409 and errors_of(late)[0]["code"] == "TICKET_CLOSED"
    bad = api.post(f"/v1/support/tickets/{tid}/rating", headers=member, json={"rating": 6})
    assert bad.status_code == 422 and errors_of(bad)[0]["field"] == "rating"
    rated = api.post(
        f"/v1/support/tickets/{tid}/rating",
        headers=member,
        json={"rating": 5, "comment": "Quick!"},
    )
    assert rated.status_code == 200, rated.text
    assert (rated.json()["data"]["rating"], rated.json()["data"]["rating_comment"]) == (5, "Quick!")

    reopened = api.post(f"/v1/support/tickets/{tid}/reopen", headers=member)
    assert (
        reopened.json()["data"]["status"] == "open" and reopened.json()["data"]["closed_at"] is None
    )
    status = api.post(
        f"/v1/admin/support/tickets/{tid}/status", headers=admin, json={"status": "closed"}
    )
    assert status.json()["data"]["status"] == "closed"
    assert api.post(f"/v1/admin/support/tickets/{tid}/reopen", headers=admin).status_code == 200
    assert api.post(f"/v1/admin/support/tickets/{tid}/close", headers=admin).status_code == 200

    actions = [e["action"] for e in audit(api, staff["token"], tenant_id=ticket["tenant_id"])]
    assert actions == [
        "support.ticket.closed",
        "support.ticket.reopened",
        "support.ticket.status_changed",
        "support.ticket.replied",
        "support.ticket.assigned",
        "support.ticket.priority_changed",
    ]
    (priority,) = audit(
        api, staff["token"], action="support.ticket.priority_changed", tenant_id=ticket["tenant_id"]
    )
    assert priority["before"]["priority"] == "high" and priority["after"]["priority"] == "urgent"


def test_tickets_belong_to_their_workspace(api: httpx.Client) -> None:
    owner, stranger = register(api), register(api)
    tid = open_ticket(api, owner["token"])["id"]
    other = bearer(stranger["token"])
    assert api.get("/v1/support/tickets", headers=other).json()["data"] == []
    for verb, path, body in [
        ("GET", f"/v1/support/tickets/{tid}", None),
        ("POST", f"/v1/support/tickets/{tid}/messages", {"body": "hi"}),
        ("POST", f"/v1/support/tickets/{tid}/close", None),
        ("POST", f"/v1/support/tickets/{tid}/reopen", None),
        ("POST", f"/v1/support/tickets/{tid}/rating", {"rating": 1}),
    ]:
        response = api.request(verb, path, headers=other, json=body)
        assert response.status_code == 404, (path, response.text)
    mine = api.get("/v1/support/tickets", headers=bearer(owner["token"])).json()["data"]
    assert [t["id"] for t in mine] == [tid]

    missing = api.post("/v1/support/tickets", headers=bearer(owner["token"]), json={"subject": " "})
    assert missing.status_code == 422
    assert {e["field"] for e in errors_of(missing)} >= {"subject", "body"}
    bad = api.post(
        "/v1/support/tickets",
        headers=bearer(owner["token"]),
        json={"subject": "a", "body": "b", "priority": "asap"},
    )
    assert bad.status_code == 422 and errors_of(bad)[0]["field"] == "priority"


def test_viewing_presence_shows_both_staff_and_expires(
    api: httpx.Client,
    stack: Stack,
    staff: dict[str, Any],  # noqa: F811
    second_staff: dict[str, Any],
) -> None:
    owner = register(api)
    tid = open_ticket(api, owner["token"])["id"]
    first = api.post(f"/v1/admin/support/tickets/{tid}/viewing", headers=bearer(staff["token"]))
    assert [v["staff_id"] for v in first.json()["data"]["viewers"]] == [staff["id"]]
    second = api.post(
        f"/v1/admin/support/tickets/{tid}/viewing", headers=bearer(second_staff["token"])
    )
    assert {v["staff_id"] for v in second.json()["data"]["viewers"]} == {
        staff["id"],
        second_staff["id"],
    }
    detail = api.get(f"/v1/admin/support/tickets/{tid}", headers=bearer(staff["token"]))
    assert len(detail.json()["data"]["viewers"]) == 2
    sql(
        stack,
        "UPDATE backoffice.ticket_viewers SET expires_at = now() - interval '1 second'"
        " WHERE ticket_id = $1 AND staff_id = $2",
        tid,
        staff["id"],
    )
    later = api.get(f"/v1/admin/support/tickets/{tid}", headers=bearer(second_staff["token"]))
    assert [v["staff_id"] for v in later.json()["data"]["viewers"]] == [second_staff["id"]]
    # The member's view never shows staff presence.
    member = api.get(f"/v1/support/tickets/{tid}", headers=bearer(owner["token"]))
    assert member.json()["data"]["viewers"] == []
    missing = api.post(
        "/v1/admin/support/tickets/987654321/viewing", headers=bearer(staff["token"])
    )
    assert missing.status_code == 404


def test_tags_and_canned_replies(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    admin = bearer(staff["token"])
    owner = register(api)
    tid = open_ticket(api, owner["token"])["id"]
    name = f"billing-{tid}"
    tag = api.post("/v1/admin/support/tags", headers=admin, json={"name": name})
    assert tag.status_code == 201, tag.text
    tag_id = tag.json()["data"]["id"]
    again = api.post("/v1/admin/support/tags", headers=admin, json={"name": name.upper()})
    assert again.status_code == 409 and errors_of(again)[0]["code"] == "TAG_EXISTS"
    assert tag_id in [
        t["id"] for t in api.get("/v1/admin/support/tags", headers=admin).json()["data"]
    ]

    tagged = api.put(
        f"/v1/admin/support/tickets/{tid}/tags", headers=admin, json={"tag_ids": [tag_id]}
    )
    assert [t["name"] for t in tagged.json()["data"]["tags"]] == [name]
    unknown = api.put(
        f"/v1/admin/support/tickets/{tid}/tags", headers=admin, json={"tag_ids": [987654321]}
    )
    assert unknown.status_code == 422 and errors_of(unknown)[0]["field"] == "tag_ids.0"
    by_tag = api.get("/v1/admin/support/tickets", headers=admin, params={"tag_id": tag_id})
    assert [t["id"] for t in by_tag.json()["data"]] == [tid]
    assert api.delete(f"/v1/admin/support/tags/{tag_id}", headers=admin).status_code == 204
    assert api.get(f"/v1/admin/support/tickets/{tid}", headers=admin).json()["data"]["tags"] == []
    assert api.delete(f"/v1/admin/support/tags/{tag_id}", headers=admin).status_code == 404

    created = api.post(
        "/v1/admin/support/canned-replies",
        headers=admin,
        json={"title": "Restart", "body": "Please restart the instance."},
    )
    assert created.status_code == 201, created.text
    cid = created.json()["data"]["id"]
    assert created.json()["data"]["created_by_staff_id"] == staff["id"]
    patched = api.patch(
        f"/v1/admin/support/canned-replies/{cid}", headers=admin, json={"title": "Restart it"}
    )
    assert patched.status_code == 200 and patched.json()["data"]["title"] == "Restart it"
    assert patched.json()["data"]["body"] == "Please restart the instance."
    cleared = api.patch(f"/v1/admin/support/canned-replies/{cid}", headers=admin, json={"body": ""})
    assert cleared.status_code == 422
    listed = api.get("/v1/admin/support/canned-replies", headers=admin).json()["data"]
    assert cid in [c["id"] for c in listed]
    assert api.get(f"/v1/admin/support/canned-replies/{cid}", headers=admin).status_code == 200
    assert api.delete(f"/v1/admin/support/canned-replies/{cid}", headers=admin).status_code == 204
    assert api.get(f"/v1/admin/support/canned-replies/{cid}", headers=admin).status_code == 404

    actions = {e["action"] for e in audit(api, staff["token"], staff_id=staff["id"], limit=100)}
    assert {
        "support.tag.created",
        "support.tag.deleted",
        "support.ticket.tagged",
        "support.canned_reply.created",
        "support.canned_reply.updated",
        "support.canned_reply.deleted",
    } <= actions


def test_a_ticket_opened_through_impersonation_is_attributed_to_the_staff_member(
    api: httpx.Client,
    stack: Stack,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    owner = register(api)
    tenant_id, user_id = owner["tenant"]["id"], owner["user"]["id"]
    in_directory(api, staff["token"], tenant_id)
    issued = api.post(
        f"/v1/admin/tenants/{tenant_id}/impersonate",
        headers=bearer(staff["token"]),
        json={"user_id": user_id},
    ).json()["data"]
    ticket = open_ticket(api, issued["token"])
    (entry,) = audit(api, staff["token"], tenant_id=tenant_id, action="support.ticket.opened")
    assert entry["staff_id"] == staff["id"] and entry["impersonated_user_id"] == user_id
    assert (entry["target_type"], entry["target_id"]) == ("ticket", ticket["id"])
    rows = sql(
        stack,
        "SELECT author_id, impersonator_staff_id FROM backoffice.ticket_messages"
        " WHERE ticket_id = $1",
        ticket["id"],
    )
    assert [(r[0], r[1]) for r in rows] == [(user_id, staff["id"])]
    # The member's own action is not a staff mutation: nothing is audited for it.
    open_ticket(api, owner["token"])
    assert len(audit(api, staff["token"], tenant_id=tenant_id, action="support.ticket.opened")) == 1


def test_a_new_ticket_is_pushed_to_subscribed_staff(
    api: httpx.Client,
    stack: Stack,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    """Through our notifications service to a browser's push service (the local fake)."""
    push = PushService().start()
    try:
        browser = push.subscribe()
        subscribed = api.post(
            "/v1/admin/push/subscriptions", headers=bearer(staff["token"]), json=browser
        )
        assert subscribed.status_code == 201, subscribed.text
        owner = register(api)
        tid = open_ticket(api, owner["token"], subject="Calendar will not sync")["id"]
        # Tickets other tests opened earlier may still be on their way to this browser:
        # wait for this ticket's notice, not for the first push.
        url_tail = f"/admin/support/tickets/{tid}"
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not (
            notices := [
                p for p in push.received(browser["endpoint"]) if p["url"].endswith(url_tail)
            ]
        ):
            assert time.monotonic() < deadline, "the new ticket was never pushed"
            time.sleep(0.2)
        (notice,) = notices
        assert notice["title"].startswith(f"New ticket #{tid}")
        assert notice["body"] == "Calendar will not sync"
    finally:
        push.stop()
