"""Campaigns through the gateway: drafts, scheduling, deletion of drafts only, recipients with
their status, the test send, and the audit log. The sender itself (claims, resumption after a
crash, two senders) is tested against our notifications service in
tests/test_backoffice_campaign_sender.py; the full send
goes through our notifications service to its email provider fake (the Stack's `email`)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from scripts.mesh import Stack
from tests.conftest import bearer, errors_of, sql, unique_email
from tests.test_backoffice_tenants import audit, staff  # noqa: F401
from tests.waiting import PATIENCE_SECONDS


def campaign(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "Early access",
        "subject": "Plixa opens its doors",
        "body": "Hello!\n\nYour early access is ready.",
        "segment": "waitlist",
    }
    body.update(changes)
    return body


def test_drafts_schedule_and_only_drafts_are_deleted(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    admin = bearer(staff["token"])
    draft = api.post("/v1/admin/campaigns", headers=admin, json=campaign())
    assert draft.status_code == 201, draft.text
    data = draft.json()["data"]
    assert (data["status"], data["scheduled_at"], data["created_by_staff_id"]) == (
        "draft",
        None,
        staff["id"],
    )
    assert data["counts"] == {"total": 0, "pending": 0, "sent": 0, "failed": 0}
    cid = data["id"]
    assert api.get(f"/v1/admin/campaigns/{cid}", headers=admin).json()["data"]["name"] == (
        "Early access"
    )
    drafts = api.get("/v1/admin/campaigns", headers=admin, params={"status": "draft"})
    assert cid in [c["id"] for c in drafts.json()["data"]]

    later = api.post(
        f"/v1/admin/campaigns/{cid}/schedule",
        headers=admin,
        json={"scheduled_at": "2099-01-01T09:00:00Z"},
    )
    assert later.status_code == 200, later.text
    assert later.json()["data"]["status"] == "scheduled"
    refused = api.delete(f"/v1/admin/campaigns/{cid}", headers=admin)
    assert refused.status_code == 409 and errors_of(refused)[0]["code"] == "CAMPAIGN_NOT_DRAFT"
    again = api.post(f"/v1/admin/campaigns/{cid}/schedule", headers=admin, json={})
    assert again.status_code == 409

    other = api.post("/v1/admin/campaigns", headers=admin, json=campaign(name="Scrap"))
    oid = other.json()["data"]["id"]
    assert api.delete(f"/v1/admin/campaigns/{oid}", headers=admin).status_code == 204
    assert api.get(f"/v1/admin/campaigns/{oid}", headers=admin).status_code == 404
    assert api.get(f"/v1/admin/campaigns/{oid}/recipients", headers=admin).status_code == 404

    actions = {e["action"] for e in audit(api, staff["token"], staff_id=staff["id"], limit=100)}
    assert {"campaign.created", "campaign.scheduled", "campaign.deleted"} <= actions


def test_campaign_input_is_checked(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    admin = bearer(staff["token"])
    cases: list[tuple[dict[str, Any], str]] = [
        (campaign(segment="everyone"), "segment"),
        (campaign(segment="plan"), "plan"),
        (campaign(plan="business"), "plan"),
        (campaign(subject=""), "subject"),
        (campaign(send_now=True, scheduled_at="2099-01-01T00:00:00Z"), "scheduled_at"),
    ]
    for body, field in cases:
        response = api.post("/v1/admin/campaigns", headers=admin, json=body)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in errors_of(response)}


def test_a_campaign_to_the_waitlist_reaches_each_address_once(
    api: httpx.Client,
    stack: Stack,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    admin = bearer(staff["token"])
    emails = [unique_email("launch") for _ in range(3)]
    for email in emails:
        sql(stack, "INSERT INTO backoffice.waitlist (email, created_at) VALUES ($1, now())", email)
    cid = api.post("/v1/admin/campaigns", headers=admin, json=campaign(send_now=True)).json()[
        "data"
    ]["id"]
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        data = api.get(f"/v1/admin/campaigns/{cid}", headers=admin).json()["data"]
        if data["status"] == "sent":
            break
        assert time.monotonic() < deadline, data
        time.sleep(0.3)
    assert data["counts"]["failed"] == 0 and data["counts"]["sent"] == data["counts"]["total"]
    listed = api.get(
        f"/v1/admin/campaigns/{cid}/recipients", headers=admin, params={"limit": 100}
    ).json()["data"]
    mine = [r for r in listed if r["email"] in emails]
    assert len(mine) == 3 and all(r["status"] == "sent" and r["email_id"] for r in mine)
    # Notifications delivered each one through the email provider, once per address.
    assert stack.email is not None

    def delivered() -> list[str]:
        return [
            to
            for sent in stack.email.emails()  # type: ignore[union-attr]
            if sent.get("subject") == "Plixa opens its doors"
            for to in ([sent["to"]] if isinstance(sent["to"], str) else sent["to"])
            if to in emails
        ]

    deadline = time.monotonic() + PATIENCE_SECONDS
    while sorted(delivered()) != sorted(emails):
        assert time.monotonic() < deadline, delivered()
        time.sleep(0.2)
    test = api.post(
        "/v1/admin/campaigns/test", headers=admin, json={"subject": "Hi", "body": "Test"}
    )
    assert test.status_code == 200 and test.json()["data"]["to"] == staff["email"]
