"""The staff console's workspaces through the gateway: a staff user made with the CLI signs in
(mandatory TOTP), finds a new workspace, suspends it (the owner meets 403 TENANT_SUSPENDED within
seconds, data kept), reactivates it, impersonates its owner (the action is attributed to the
staff member; /v1/admin is refused to the impersonation token), and the audit log shows each
action with who, what, target, before/after, request id and time."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scripts.mesh import Stack
from tests.conftest import announce_plan, bearer, errors_of, register, sql, wait_for_status
from tests.fakes.evolution import new_message_id
from tests.test_inbox_messaging import pair, unique_phone
from tests.test_staff import enrol, new_staff
from tests.waiting import poll


@pytest.fixture(scope="module")
def staff(gateway_url: str, stack: Stack) -> dict[str, Any]:
    """A staff account made by the CLI, enrolled; its session token and id."""
    email = new_staff(stack)
    with httpx.Client(base_url=gateway_url, timeout=15) as api:
        enrolled = enrol(api, email)
    staff_id = int(sql(stack, "SELECT id FROM identity.staff WHERE email = $1", email)[0][0])
    return {"token": enrolled.token, "id": staff_id, "email": email}


def listed(api: httpx.Client, token: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/admin/tenants", headers=bearer(token), params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]
    return items


def in_directory(api: httpx.Client, token: str, tenant_id: int) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        response = api.get(f"/v1/admin/tenants/{tenant_id}", headers=bearer(token))
        return response.json()["data"] if response.status_code == 200 else None

    tenant = poll(found)
    assert tenant, f"workspace {tenant_id} never reached the directory"
    return dict(tenant)


def audit(api: httpx.Client, token: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/admin/audit-logs", headers=bearer(token), params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]
    return items


def test_staff_find_suspend_reactivate_and_the_audit_log(
    api: httpx.Client, stack: Stack, staff: dict[str, Any]
) -> None:
    token = staff["token"]
    owner = register(api, company_name="Suspendable Studio")
    tenant_id, owner_token = owner["tenant"]["id"], owner["token"]
    tenant = in_directory(api, token, tenant_id)
    assert tenant["status"] == "active" and tenant["owner_email"] == owner["user"]["email"]
    assert tenant["usage"]["members"] == 1
    usage = tenant["usage"]  # inbox's usage RPC answers
    assert (usage["whatsapp_numbers"], usage["conversations_this_month"]) == (0, 0)
    slug = owner["tenant"]["slug"]
    assert [t["id"] for t in listed(api, token, q=slug)] == [tenant_id]
    assert api.get("/v1/team/members", headers=bearer(owner_token)).status_code == 200  # cached

    suspend = api.post(
        f"/v1/admin/tenants/{tenant_id}/suspend",
        headers={**bearer(token), "X-Request-Id": "suspend-req-1"},
    )
    assert suspend.status_code == 200, suspend.text
    assert suspend.json()["data"]["status"] == "suspended"
    refused = wait_for_status(api, "/v1/team/members", owner_token, 403)
    assert errors_of(refused)[0]["code"] == "TENANT_SUSPENDED"
    assert api.get("/v1/me", headers=bearer(owner_token)).status_code == 200  # data kept
    assert tenant_id in [t["id"] for t in listed(api, token, status="suspended")]
    assert tenant_id not in [t["id"] for t in listed(api, token, status="active", q=slug)]

    reactivate = api.post(f"/v1/admin/tenants/{tenant_id}/reactivate", headers=bearer(token))
    assert reactivate.status_code == 200 and reactivate.json()["data"]["status"] == "active"
    assert wait_for_status(api, "/v1/team/members", owner_token, 200).status_code == 200

    entries = audit(api, token, tenant_id=tenant_id)
    assert [e["action"] for e in entries] == ["tenant.reactivated", "tenant.suspended"]
    suspended = entries[1]
    assert suspended["staff_id"] == staff["id"]
    assert (suspended["target_type"], suspended["target_id"]) == ("tenant", tenant_id)
    assert suspended["before"] == {"status": "active"}
    assert suspended["after"] == {"status": "suspended"}
    assert suspended["request_id"] == "suspend-req-1"
    assert suspended["created_at"] and suspended["impersonated_user_id"] is None
    assert audit(api, token, tenant_id=tenant_id, action="tenant.suspended") == [suspended]


def test_impersonation_is_attributed_and_kept_off_admin(
    api: httpx.Client, stack: Stack, staff: dict[str, Any]
) -> None:
    token = staff["token"]
    owner = register(api)
    tenant_id, user_id = owner["tenant"]["id"], owner["user"]["id"]
    in_directory(api, token, tenant_id)
    other = register(api)

    # Another workspace's member cannot be impersonated through this one.
    foreign = api.post(
        f"/v1/admin/tenants/{tenant_id}/impersonate",
        headers=bearer(token),
        json={"user_id": other["user"]["id"]},
    )
    assert foreign.status_code == 404, foreign.text
    missing = api.post(f"/v1/admin/tenants/{tenant_id}/impersonate", headers=bearer(token), json={})
    assert missing.status_code == 422 and errors_of(missing)[0]["field"] == "user_id"

    response = api.post(
        f"/v1/admin/tenants/{tenant_id}/impersonate",
        headers=bearer(token),
        json={"user_id": user_id},
    )
    assert response.status_code == 200, response.text
    issued = response.json()["data"]
    assert (issued["tenant_id"], issued["user_id"]) == (tenant_id, user_id)
    acting = bearer(issued["token"])
    me = api.get("/v1/me", headers=acting)
    assert me.status_code == 200 and me.json()["data"]["user"]["id"] == user_id
    for verb, path in [
        ("GET", "/v1/admin/tenants"),
        ("GET", "/v1/admin/audit-logs"),
        ("POST", f"/v1/admin/tenants/{tenant_id}/suspend"),
        ("POST", "/v1/me/2fa/setup"),
    ]:
        refused = api.request(verb, path, headers=acting, json={})
        assert refused.status_code == 403, (path, refused.text)
        assert errors_of(refused)[0]["code"] == "IMPERSONATION_FORBIDDEN"

    (entry,) = audit(api, token, tenant_id=tenant_id, action="tenant.impersonated")
    assert entry["staff_id"] == staff["id"]
    assert (entry["target_type"], entry["target_id"]) == ("user", user_id)
    assert entry["after"]["expires_at"] == issued["expires_at"]


def test_what_an_impersonation_token_changes_in_other_services_is_audited(
    api: httpx.Client, stack: Stack, staff: dict[str, Any]
) -> None:
    """Inbox, identity and scheduling write an audit event in the change's own transaction;
    the backoffice appends it, attributed to the staff member. Reads, refused changes and the
    member's own changes leave nothing."""
    token = staff["token"]
    owner = register(api)
    tenant_id, user_id = owner["tenant"]["id"], owner["user"]["id"]
    in_directory(api, token, tenant_id)
    issued = api.post(
        f"/v1/admin/tenants/{tenant_id}/impersonate",
        headers=bearer(token),
        json={"user_id": user_id},
    ).json()["data"]
    acting = bearer(issued["token"])

    created = api.post("/v1/contacts", headers=acting, json={"contact_phone": unique_phone()})
    assert created.status_code == 201, created.text
    contact_id = created.json()["data"]["id"]
    renamed = api.patch(
        f"/v1/contacts/{contact_id}", headers=acting, json={"contact_name": "Renamed by support"}
    )
    assert renamed.status_code == 200, renamed.text
    me = api.patch("/v1/me", headers=acting, json={"name": "Owner (fixed by support)"})
    assert me.status_code == 200, me.text
    schedule = api.put(
        f"/v1/scheduling/providers/{user_id}/schedule",
        headers=acting,
        json={"timezone": "America/Sao_Paulo", "rules": []},
    )
    assert schedule.status_code == 200, schedule.text
    # Not audited: a read, a refused change (nothing committed), the member's own change.
    assert api.get(f"/v1/contacts/{contact_id}", headers=acting).status_code == 200
    refused = api.post("/v1/contacts", headers=acting, json={"contact_phone": "not a phone"})
    assert refused.status_code == 422, refused.text
    own = api.post(
        "/v1/contacts", headers=bearer(owner["token"]), json={"contact_phone": unique_phone()}
    )
    assert own.status_code == 201, own.text

    expected = {
        "inbox.CreateContact": (created, "contact", 0),
        "inbox.UpdateContact": (renamed, "contact", contact_id),
        "identity.UpdateMe": (me, "me", 0),
        "scheduling.PutProviderSchedule": (schedule, "provider", user_id),
    }

    def entries() -> dict[str, dict[str, Any]]:
        found = audit(api, token, tenant_id=tenant_id, limit=50)
        return {e["action"]: e for e in found if e["action"] in expected}

    recorded = poll(lambda: len(entries()) == len(expected) and entries())
    assert recorded, f"audited: {sorted(entries())}"
    for action, (response, target_type, target_id) in expected.items():
        entry = recorded[action]
        assert entry["staff_id"] == staff["id"] and entry["impersonated_user_id"] == user_id
        assert (entry["target_type"], entry["target_id"]) == (target_type, target_id), action
        assert entry["request_id"] == response.headers["x-request-id"], action
    assert recorded["inbox.CreateContact"]["after"] == {
        "route": "POST /v1/contacts",
        "events": ["inbox.contact.created"],
    }
    everything = audit(api, token, tenant_id=tenant_id, limit=50)
    assert sorted(e["action"] for e in everything) == sorted([*expected, "tenant.impersonated"])


def test_unknown_workspaces_and_bad_input(api: httpx.Client, staff: dict[str, Any]) -> None:
    token = staff["token"]
    for verb, path in [
        ("GET", "/v1/admin/tenants/987654321"),
        ("POST", "/v1/admin/tenants/987654321/suspend"),
        ("POST", "/v1/admin/tenants/987654321/reactivate"),
    ]:
        response = api.request(verb, path, headers=bearer(token))
        assert response.status_code == 404, (path, response.text)
    bad = api.get("/v1/admin/tenants", headers=bearer(token), params={"status": "gone"})
    assert bad.status_code == 422 and errors_of(bad)[0]["field"] == "status"
    cursor = api.get("/v1/admin/audit-logs", headers=bearer(token), params={"cursor": "nope"})
    assert cursor.status_code == 422 and errors_of(cursor)[0]["field"] == "cursor"


def test_lists_page_with_cursors_and_filter_by_plan(
    api: httpx.Client, stack: Stack, staff: dict[str, Any]
) -> None:
    token = staff["token"]
    owners = [register(api, company_name=f"Paged Shop {i}") for i in range(3)]
    for owner in owners:
        in_directory(api, token, owner["tenant"]["id"])
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "q": "Paged Shop"}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/admin/tenants", headers=bearer(token), params=params).json()
        seen += [t["id"] for t in page["data"]]
        cursor = page["meta"]["next_cursor"]
        if not cursor:
            break
    ids = {o["tenant"]["id"] for o in owners}
    assert ids <= set(seen) and len(seen) == len(set(seen))

    professional = owners[0]["tenant"]["id"]
    announce_plan(stack, professional, "professional")
    assert poll(lambda: professional in [t["id"] for t in listed(api, token, plan="professional")])
    assert in_directory(api, token, professional)["plan"] == "professional"


def test_the_audit_log_filters_by_staff_and_time_and_cannot_be_edited(
    api: httpx.Client, stack: Stack, staff: dict[str, Any]
) -> None:
    token = staff["token"]
    owner = register(api)
    tenant_id = owner["tenant"]["id"]
    in_directory(api, token, tenant_id)
    api.post(f"/v1/admin/tenants/{tenant_id}/suspend", headers=bearer(token))
    api.post(f"/v1/admin/tenants/{tenant_id}/reactivate", headers=bearer(token))
    mine = audit(api, token, staff_id=staff["id"], tenant_id=tenant_id)
    assert len(mine) == 2
    assert audit(api, token, staff_id=staff["id"] + 100000, tenant_id=tenant_id) == []
    first = mine[-1]["created_at"]
    assert [e["id"] for e in audit(api, token, tenant_id=tenant_id, since=first)] == [
        e["id"] for e in mine
    ]
    assert audit(api, token, tenant_id=tenant_id, until=first) == []
    one = api.get(
        "/v1/admin/audit-logs", headers=bearer(token), params={"tenant_id": tenant_id, "limit": 1}
    ).json()
    assert len(one["data"]) == 1 and one["meta"]["has_more"] is True

    # No route edits or deletes it, and the table itself refuses it.
    for verb in ("PUT", "PATCH", "DELETE"):
        assert api.request(verb, "/v1/admin/audit-logs", headers=bearer(token)).status_code in (
            404,
            405,
        )
    with pytest.raises(Exception, match="append-only"):
        sql(stack, "DELETE FROM backoffice.audit_log WHERE tenant_id = $1", tenant_id)
    with pytest.raises(Exception, match="append-only"):
        sql(stack, "UPDATE backoffice.audit_log SET action = 'x' WHERE tenant_id = $1", tenant_id)


def publish_tenant_erased(stack: Stack, tenant_id: int) -> None:
    """identity.tenant.erased on the stack's JetStream, as identity's deletion job emits it."""
    import asyncio
    import uuid

    import nats

    from plixa.identity.v1 import events_pb2
    from services.kit.messaging import ensure_stream

    async def publish() -> None:
        client = await nats.connect(stack.nats_url)
        try:
            js = client.jetstream()
            await ensure_stream(js, "identity")
            await js.publish(
                "identity.tenant.erased",
                events_pb2.TenantErased(tenant_id=tenant_id).SerializeToString(),
                headers={"Nats-Msg-Id": uuid.uuid4().hex},
            )
        finally:
            await client.close()

    asyncio.run(publish())


def test_an_erased_workspace_leaves_the_directory_and_its_audit_keeps_only_ids(
    api: httpx.Client, stack: Stack, staff: dict[str, Any]
) -> None:
    token = staff["token"]
    owner = register(api)
    tenant_id = owner["tenant"]["id"]
    in_directory(api, token, tenant_id)
    api.post(f"/v1/admin/tenants/{tenant_id}/suspend", headers=bearer(token))
    ticket = api.post(
        "/v1/support/tickets",
        headers=bearer(owner["token"]),
        json={"subject": "Bye", "body": "Closing down"},
    )
    assert ticket.status_code == 201, ticket.text

    publish_tenant_erased(stack, tenant_id)
    gone = poll(
        lambda: api.get(f"/v1/admin/tenants/{tenant_id}", headers=bearer(token)).status_code == 404
    )
    assert gone, "the erased workspace is still in the directory"
    (entry,) = audit(api, token, tenant_id=tenant_id)
    assert (entry["action"], entry["staff_id"], entry["target_id"]) == (
        "tenant.suspended",
        staff["id"],
        tenant_id,
    )
    assert entry["before"] is None and entry["after"] is None
    tickets = api.get(
        "/v1/admin/support/tickets", headers=bearer(token), params={"tenant_id": tenant_id}
    )
    assert tickets.json()["data"] == []


def test_whatsapp_messages_sent_while_suspended_are_kept(
    api: httpx.Client, stack: Stack, staff: dict[str, Any]
) -> None:
    """Suspension shuts the owner out, not the customers: a message that reaches the paired
    number meanwhile is stored and waits in the inbox for the reactivated workspace."""
    assert stack.evolution is not None, "PLIXA_EVOLUTION_URL set: this test needs the fake"
    evolution = stack.evolution
    token = staff["token"]
    owner = register(api, company_name="Quiet Season")
    tenant_id, owner_token = owner["tenant"]["id"], owner["token"]
    name = pair(api, evolution, owner_token)["instance_name"]
    in_directory(api, token, tenant_id)

    suspend = api.post(f"/v1/admin/tenants/{tenant_id}/suspend", headers=bearer(token))
    assert suspend.status_code == 200, suspend.text
    refused = wait_for_status(api, "/v1/conversations", owner_token, 403)
    assert errors_of(refused)[0]["code"] == "TENANT_SUSPENDED"

    phone = unique_phone()
    wa_id = new_message_id()
    inbound = evolution.inbound_text(name, phone, "are you open today?", message_id=wa_id)
    assert inbound.status_code == 200, inbound.text
    assert inbound.json()["data"]["stored"] == 1
    still = api.get("/v1/conversations", headers=bearer(owner_token))
    assert still.status_code == 403 and errors_of(still)[0]["code"] == "TENANT_SUSPENDED"

    reactivate = api.post(f"/v1/admin/tenants/{tenant_id}/reactivate", headers=bearer(token))
    assert reactivate.status_code == 200, reactivate.text
    back = wait_for_status(api, "/v1/conversations", owner_token, 200)
    (conversation,) = back.json()["data"]
    assert conversation["contact_phone"] == phone and conversation["unread_count"] == 1
    view = api.get(f"/v1/conversations/{conversation['id']}", headers=bearer(owner_token))
    assert view.status_code == 200, view.text
    (message,) = view.json()["data"]["messages"]
    assert (message["body"], message["direction"]) == ("are you open today?", "inbound")
    assert message["whatsapp_message_id"] == wa_id
