"""The activity digest: settings (owner-only, off by default), the test send, the scheduled run
once per period."""

from __future__ import annotations

import time

import httpx

from tests.conftest import bearer, error_fields, sql
from tests.test_notifications_support import (  # noqa: F401  (fixtures)
    Notifications,
    api_fixture,
    inbound,
    notif_fixture,
    publish,
    workspace,
)
from tests.test_team import join
from tests.waiting import wait_until


def test_settings_are_owner_only_and_off_by_default(
    api: httpx.Client, notif: Notifications
) -> None:
    ws = workspace(api, notif, plan="starter")
    read = api.get("/v1/digest-config", headers=bearer(ws.token))
    assert read.status_code == 200, read.text
    assert read.json()["data"] == {"enabled": False, "frequency": "daily", "last_sent_at": None}
    saved = api.put(
        "/v1/digest-config", headers=bearer(ws.token), json={"enabled": True, "frequency": "weekly"}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["data"]["enabled"] is True and saved.json()["data"]["frequency"] == "weekly"
    only_frequency = api.put(
        "/v1/digest-config", headers=bearer(ws.token), json={"frequency": "daily"}
    )
    assert only_frequency.json()["data"] == {
        "enabled": True,
        "frequency": "daily",
        "last_sent_at": None,
    }
    for body, field in [
        ({"frequency": "hourly"}, "frequency"),
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": None}, "enabled"),
        ({"extra": 1}, "extra"),
    ]:
        refused = api.put("/v1/digest-config", headers=bearer(ws.token), json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert field in error_fields(refused)
    agent = join(api, ws.token)
    assert api.get("/v1/digest-config", headers=bearer(agent["token"])).status_code == 403
    assert api.post("/v1/digest-config/test", headers=bearer(agent["token"])).status_code == 403
    other = workspace(api, notif, plan="starter")
    assert (
        api.get("/v1/digest-config", headers=bearer(other.token)).json()["data"]["enabled"] is False
    )


def test_the_test_send_shows_todays_figures(api: httpx.Client, notif: Notifications) -> None:
    ws = workspace(api, notif, plan="starter")
    for _ in range(2):
        publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id))
    query = "SELECT inbound FROM notifications.daily_stats WHERE tenant_id = $1"
    wait_until(lambda: sum(r["inbound"] for r in sql(notif.stack, query, ws.tenant_id)) == 2)
    sent = api.post("/v1/digest-config/test", headers=bearer(ws.token))
    assert sent.status_code == 200, sent.text
    preview = sent.json()["data"]
    assert preview["to"] == ws.email and preview["subject"].startswith("[Test] Daily activity of")
    assert "messages received: 2" in preview["text"]
    mail = wait_until(lambda: [m for m in notif.email.emails() if m["to"] == [ws.email]])
    assert mail[0]["subject"] == preview["subject"] and "<p>" in mail[0]["html"]


def test_the_scheduled_run_sends_once_per_period_to_enrolled_workspaces(
    api: httpx.Client, notif: Notifications
) -> None:
    enrolled = workspace(api, notif, plan="starter")
    late = workspace(api, notif, plan="starter")
    for ws in (enrolled, late):
        saved = api.put("/v1/digest-config", headers=bearer(ws.token), json={"enabled": True})
        assert saved.status_code == 200
    # `enrolled` turned it on yesterday; `late` just now, so today's run is not its yet.
    sql(
        notif.stack,
        "UPDATE notifications.digest_configs SET enabled_at = now() - interval '2 days'"
        " WHERE tenant_id = $1",
        enrolled.tenant_id,
    )
    mail = wait_until(
        lambda: [m for m in notif.email.emails() if m["to"] == [enrolled.email]], what="the digest"
    )
    assert mail[0]["subject"].startswith("Daily activity of Lucia Studios")
    time.sleep(1.0)  # several more ticks of the job
    assert len([m for m in notif.email.emails() if m["to"] == [enrolled.email]]) == 1
    assert [m for m in notif.email.emails() if m["to"] == [late.email]] == []
    read = api.get("/v1/digest-config", headers=bearer(enrolled.token)).json()["data"]
    assert read["last_sent_at"] is not None
