"""Emails: invitations (the link comes from identity), deletion notices, and SendEmail for other
services, through the fake email provider (Resend's wire format)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from plixa.notifications.v1 import internal_pb2
from services.kit.client import ServiceClient
from services.kit.config import internal_secret
from services.kit.errors import DomainError
from services.kit.principal import service_principal
from tests.conftest import PASSWORD, bearer, sql, unique_email
from tests.test_notifications_support import (  # noqa: F401  (fixtures)
    Notifications,
    api_fixture,
    notif_fixture,
    workspace,
)
from tests.waiting import wait_until

SEND_EMAIL = "/plixa.notifications.v1.NotificationsInternal/SendEmail"


def test_an_invitation_is_emailed_with_its_link_and_resent(
    api: httpx.Client, notif: Notifications
) -> None:
    ws = workspace(api, notif)
    invitee = unique_email("invitee")
    created = api.post("/v1/team/invitations", headers=bearer(ws.token), json={"email": invitee})
    assert created.status_code == 201, created.text
    invitation = created.json()["data"]
    mail = wait_until(
        lambda: [m for m in notif.email.emails() if m["to"] == [invitee]], what="the invitation"
    )
    assert len(mail) == 1
    assert invitation["accept_url"] in mail[0]["text"]
    assert invitation["accept_url"].replace("&", "&amp;") in mail[0]["html"]
    assert "Lucia Studios" in mail[0]["subject"] and mail[0]["idempotency_key"]
    resent = api.post(f"/v1/team/invitations/{invitation['id']}/resend", headers=bearer(ws.token))
    assert resent.status_code == 200
    wait_until(
        lambda: len([m for m in notif.email.emails() if m["to"] == [invitee]]) == 2,
        what="the resend",
    )
    # A cancelled invitation's event finds no link: nothing is sent for it.
    other = unique_email("cancelled")
    second = api.post("/v1/team/invitations", headers=bearer(ws.token), json={"email": other})
    api.delete(f"/v1/team/invitations/{second.json()['data']['id']}", headers=bearer(ws.token))
    accepted = api.post(
        "/v1/team/invitations/accept",
        json={"token": invitation["token"], "name": "New Agent", "password": PASSWORD},
    )
    assert accepted.status_code == 201


def test_a_deletion_notice_is_emailed(api: httpx.Client, notif: Notifications) -> None:
    ws = workspace(api, notif)
    scheduled = api.post(
        "/v1/account/deletion", headers=bearer(ws.token), json={"password": PASSWORD}
    )
    assert scheduled.status_code == 202, scheduled.text
    mail = wait_until(
        lambda: [m for m in notif.email.emails() if m["to"] == [ws.email]], what="the notice"
    )
    assert "deletion" in mail[0]["subject"].lower() and "workspace" in mail[0]["text"]
    assert mail[0]["html"].startswith("<!doctype html>")


def test_send_email_is_idempotent_and_validated(notif: Notifications) -> None:
    async def run() -> None:
        client = ServiceClient(
            internal_secret(), lambda _: f"127.0.0.1:{notif.stack.ports['notifications']}"
        )
        me = service_principal("backoffice")
        request = internal_pb2.SendEmailRequest(
            template="plain",
            to="someone@example.com",
            data={"subject": "Your ticket", "text": "We answered.\n\nThanks"},
            idempotency_key="ticket-42-reply-1",
        )
        first = await client.call(
            "notifications", SEND_EMAIL, request, internal_pb2.SendEmailResponse, principal=me
        )
        again = await client.call(
            "notifications", SEND_EMAIL, request, internal_pb2.SendEmailResponse, principal=me
        )
        assert first.email_id == again.email_id
        for bad in (
            internal_pb2.SendEmailRequest(
                template="plain",
                to="nope",
                data={"subject": "s", "text": "t"},
                idempotency_key="k1",
            ),
            internal_pb2.SendEmailRequest(template="unknown", to="a@b.co", idempotency_key="k2"),
            internal_pb2.SendEmailRequest(
                template="plain", to="a@b.co", data={"subject": "s", "text": "t"}
            ),
        ):
            with pytest.raises(DomainError) as refused:
                await client.call(
                    "notifications", SEND_EMAIL, bad, internal_pb2.SendEmailResponse, principal=me
                )
            assert refused.value.code == "VALIDATION_FAILED"
        await client.close()

    asyncio.run(run())
    sent = wait_until(
        lambda: [m for m in notif.email.emails() if m["to"] == ["someone@example.com"]]
    )
    assert len(sent) == 1 and sent[0]["text"].startswith("We answered.")
    assert sent[0]["idempotency_key"] == "ext:ticket-42-reply-1"
    query = "SELECT 1 FROM notifications.emails WHERE idempotency_key = $1 AND status = 'sent'"
    assert wait_until(lambda: sql(notif.stack, query, "ext:ticket-42-reply-1"))
