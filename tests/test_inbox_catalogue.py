"""Inbox's catalogue through the gateway: contacts, labels, custom fields, saved replies, sectors.

Every endpoint meets its attackers here: another workspace's ids (404), an agent on owner-only
routes (403), the plan gate, API tokens by ability, and bad input (422 naming the field)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx
import pytest

from plixa.inbox.v1 import events_pb2
from scripts.mesh import Stack
from tests.conftest import announce_plan, bearer, error_fields, errors_of, register, sql
from tests.test_api_tokens import wait_for_plan
from tests.test_team import join
from tests.waiting import PATIENCE_SECONDS


def on_plan(api: httpx.Client, stack: Stack, plan: str) -> dict[str, Any]:
    """A new workspace whose owner's token is first used once identity knows the plan."""
    owner = register(api)
    if plan != "starter":
        announce_plan(stack, owner["tenant"]["id"], plan)
        wait_for_plan(stack, owner["tenant"]["id"], plan)
    return owner


@pytest.fixture(scope="module")
def team(stack: Stack, gateway_url: str) -> dict[str, Any]:
    """One professional workspace (owner + agent) and a stranger's workspace, shared by the
    tests of this module (each test makes its own objects in them)."""
    with httpx.Client(base_url=gateway_url, timeout=15) as api:
        owner = on_plan(api, stack, "professional")
        agent = join(api, owner["token"])
        stranger = on_plan(api, stack, "professional")
    return {"owner": owner, "agent": agent, "stranger": stranger}


def h(who: dict[str, Any]) -> dict[str, str]:
    return bearer(who["token"])


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def contact_events(stack: Stack, contact_id: int) -> list[tuple[str, events_pb2.ContactChanged]]:
    rows = sql(
        stack,
        "SELECT subject, payload FROM inbox.outbox WHERE subject LIKE 'inbox.contact.%' "
        "ORDER BY seq",
    )
    found = []
    for row in rows:
        event = events_pb2.ContactChanged.FromString(row["payload"])
        if event.contact.id == contact_id:
            found.append((row["subject"], event))
    return found


def conversation_updates(stack: Stack, conversation_id: int) -> list[tuple[list[str], str]]:
    """(changed, reason) of each inbox.conversation.updated about this conversation."""
    rows = sql(
        stack,
        "SELECT payload FROM inbox.outbox WHERE subject = 'inbox.conversation.updated'"
        " ORDER BY seq",
    )
    found = []
    for row in rows:
        event = events_pb2.ConversationChanged.FromString(row["payload"])
        if event.conversation.id == conversation_id:
            found.append((list(event.changed), event.reason))
    return found


def new_phone() -> str:
    import random

    return "55119" + "".join(random.choice("0123456789") for _ in range(8))


# ── labels ──────────────────────────────────────────────────────────────────────────────────


def test_labels_crud_is_owner_only_and_tenant_scoped(
    api: httpx.Client, team: dict[str, Any]
) -> None:
    owner, agent, stranger = team["owner"], team["agent"], team["stranger"]
    created = data(
        api.post("/v1/labels", headers=h(owner), json={"name": " VIP ", "color": "#1F9D55"}), 201
    )
    assert (created["name"], created["color"]) == ("VIP", "#1f9d55")
    assert set(created) == {"id", "name", "color", "position", "created_at", "updated_at"}

    taken = api.post("/v1/labels", headers=h(owner), json={"name": "vip"})
    assert taken.status_code == 409 and errors_of(taken)[0]["code"] == "LABEL_EXISTS"
    assert error_fields(taken) == {"name"}
    # The same name in another workspace is that workspace's business.
    data(api.post("/v1/labels", headers=h(stranger), json={"name": "VIP"}), 201)

    for body, field in (
        ({"name": "x", "color": "red"}, "color"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "x", "size": 3}, "size"),
    ):
        bad = api.post("/v1/labels", headers=h(owner), json=body)
        assert bad.status_code == 422 and error_fields(bad) == {field}, (body, bad.text)

    refused = api.post("/v1/labels", headers=h(agent), json={"name": "Agent's"})
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "FORBIDDEN"
    assert (
        api.put(f"/v1/labels/{created['id']}", headers=h(agent), json={"name": "Z"}).status_code
        == 403
    )
    assert api.delete(f"/v1/labels/{created['id']}", headers=h(agent)).status_code == 403
    listed = data(api.get("/v1/labels", headers=h(agent)))
    assert created["id"] in [label["id"] for label in listed]

    # Only the keys sent change; null clears the colour; a blank name may not replace one.
    recoloured = data(
        api.put(f"/v1/labels/{created['id']}", headers=h(owner), json={"color": None})
    )
    assert (recoloured["name"], recoloured["color"]) == ("VIP", None)
    renamed = data(api.put(f"/v1/labels/{created['id']}", headers=h(owner), json={"name": "Gold"}))
    assert (renamed["name"], renamed["color"]) == ("Gold", None)
    unchanged = data(api.put(f"/v1/labels/{created['id']}", headers=h(owner), json={}))
    assert unchanged == renamed  # an empty body changes nothing
    assert api.put(f"/v1/labels/{created['id']}", headers=h(stranger), json={}).status_code == 404
    blank = api.put(f"/v1/labels/{created['id']}", headers=h(owner), json={"name": None})
    assert blank.status_code == 422 and error_fields(blank) == {"name"}

    for verb in ("put", "delete"):
        kwargs: dict[str, Any] = {"json": {"name": "Mine"}} if verb == "put" else {}
        foreign = getattr(api, verb)(f"/v1/labels/{created['id']}", headers=h(stranger), **kwargs)
        assert foreign.status_code == 404 and errors_of(foreign)[0]["code"] == "NOT_FOUND"
    assert created["id"] not in [x["id"] for x in data(api.get("/v1/labels", headers=h(stranger)))]

    assert api.delete(f"/v1/labels/{created['id']}", headers=h(owner)).status_code == 204
    assert api.delete(f"/v1/labels/{created['id']}", headers=h(owner)).status_code == 404


def test_deleting_a_label_detaches_it_from_contacts_and_conversations(
    api: httpx.Client, stack: Stack, team: dict[str, Any]
) -> None:
    owner = team["owner"]
    tenant_id = owner["tenant"]["id"]
    label = data(api.post("/v1/labels", headers=h(owner), json={"name": "Detach me"}), 201)
    contact = data(
        api.post("/v1/contacts", headers=h(owner), json={"contact_phone": new_phone()}), 201
    )
    data(api.post(f"/v1/contacts/{contact['id']}/labels/{label['id']}", headers=h(owner)))
    # A conversation carrying the label (written as inbox core would; tests may write state).
    [conversation] = sql(
        stack,
        "INSERT INTO inbox.conversations (tenant_id, contact_id, contact_phone, last_activity_at,"
        " created_at, updated_at) VALUES ($1, $2, $3, now(), now(), now()) RETURNING id",
        tenant_id,
        contact["id"],
        contact["phone"],
    )
    sql(
        stack,
        "INSERT INTO inbox.conversation_labels (tenant_id, conversation_id, label_id)"
        " VALUES ($1, $2, $3)",
        tenant_id,
        conversation["id"],
        label["id"],
    )

    assert api.delete(f"/v1/labels/{label['id']}", headers=h(owner)).status_code == 204
    assert data(api.get(f"/v1/contacts/{contact['id']}", headers=h(owner)))["labels"] == []
    left = sql(
        stack,
        "SELECT (SELECT count(*) FROM inbox.conversation_labels WHERE label_id = $1)"
        " + (SELECT count(*) FROM inbox.contact_labels WHERE label_id = $1) AS n",
        label["id"],
    )
    assert left[0]["n"] == 0
    subject, event = contact_events(stack, contact["id"])[-1]
    assert subject == "inbox.contact.updated"
    assert list(event.changed) == ["label_ids"] and list(event.contact.label_ids) == []
    assert conversation_updates(stack, conversation["id"]) == [(["label_ids"], "label_deleted")]


# ── contacts ────────────────────────────────────────────────────────────────────────────────


def test_contact_creation_is_idempotent_per_phone_and_open_to_agents(
    api: httpx.Client, stack: Stack, team: dict[str, Any]
) -> None:
    owner, agent, stranger = team["owner"], team["agent"], team["stranger"]
    phone = new_phone()
    typed = f"+{phone[:2]} ({phone[2:4]}) {phone[4:9]}-{phone[9:]}"
    created = data(
        api.post(
            "/v1/contacts",
            headers=h(agent),
            json={"contact_phone": typed, "contact_name": " Lucia ", "notes": "walk-in"},
        ),
        201,
    )
    assert (created["phone"], created["name"], created["notes"]) == (phone, "Lucia", "walk-in")
    assert created["labels"] == [] and created["custom_fields"] == []

    again = data(
        api.post(
            "/v1/contacts", headers=h(owner), json={"contact_phone": phone, "contact_name": "X"}
        ),
        201,
    )
    assert again == created  # answered as it is
    elsewhere = data(
        api.post("/v1/contacts", headers=h(stranger), json={"contact_phone": phone}), 201
    )
    assert elsewhere["id"] != created["id"]
    assert [s for s, _ in contact_events(stack, created["id"])] == ["inbox.contact.created"]
    _, event = contact_events(stack, created["id"])[0]
    assert event.tenant_id == owner["tenant"]["id"] and event.contact.phone == phone
    assert event.actor_user_id == agent["user"]["id"]

    # A burst of creations of one new phone makes one contact and one event.
    burst_phone = new_phone()

    def create(_: int) -> int:
        with httpx.Client(base_url=str(api.base_url), timeout=15) as client:
            return data(
                client.post("/v1/contacts", headers=h(owner), json={"contact_phone": burst_phone}),
                201,
            )["id"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(create, range(8)))
    assert len(ids) == 1
    rows = sql(stack, "SELECT count(*) AS n FROM inbox.contacts WHERE phone = $1", burst_phone)
    assert rows[0]["n"] == 1
    assert len(contact_events(stack, ids.pop())) == 1

    for body, field in (
        ({"contact_phone": "12ab"}, "contact_phone"),
        ({"contact_phone": "123"}, "contact_phone"),
        ({"contact_phone": ""}, "contact_phone"),
        ({}, "contact_phone"),
        ({"contact_phone": phone, "contact_name": "x" * 256}, "contact_name"),
        ({"contact_phone": phone, "email": "a@b.co"}, "email"),
    ):
        bad = api.post("/v1/contacts", headers=h(owner), json=body)
        assert bad.status_code == 422 and error_fields(bad) == {field}, (body, bad.text)


def test_contacts_list_search_filter_and_page(api: httpx.Client, team: dict[str, Any]) -> None:
    owner, agent, stranger = team["owner"], team["agent"], team["stranger"]
    marker = new_phone()[-6:]
    made = []
    for i, name in enumerate(["Ana Souza", "Bruno Lima", "ana maria", None]):
        phone = f"5521{marker}{i:03d}"
        body: dict[str, Any] = {"contact_phone": phone}
        if name:
            body["contact_name"] = f"{name} {marker}"
        made.append(data(api.post("/v1/contacts", headers=h(owner), json=body), 201))
    label = data(api.post("/v1/labels", headers=h(owner), json={"name": f"L{marker}"}), 201)
    data(api.post(f"/v1/contacts/{made[1]['id']}/labels/{label['id']}", headers=h(agent)))

    def ids(params: dict[str, Any], who: dict[str, Any] = agent) -> list[int]:
        return [c["id"] for c in data(api.get("/v1/contacts", headers=h(who), params=params))]

    newest_first = [c["id"] for c in reversed(made)]
    assert ids({"search": marker}) == newest_first  # names and phones both carry the marker
    ana = ids({"search": "ANA"})  # any case, names only
    assert made[0]["id"] in ana and made[2]["id"] in ana and made[1]["id"] not in ana
    assert ids({"search": f"+55 21 {marker}"}) == newest_first  # a phone as people type it
    assert ids({"label_id": label["id"]}) == [made[1]["id"]]
    assert ids({"search": marker}, stranger) == []
    assert ids({"label_id": label["id"]}, stranger) == []

    page = api.get("/v1/contacts", headers=h(agent), params={"search": marker, "limit": 3})
    first = page.json()
    assert [c["id"] for c in first["data"]] == newest_first[:3]
    assert first["meta"]["has_more"] is True
    rest = api.get(
        "/v1/contacts",
        headers=h(agent),
        params={"search": marker, "limit": 3, "cursor": first["meta"]["next_cursor"]},
    ).json()
    assert [c["id"] for c in rest["data"]] == newest_first[3:]
    assert rest["meta"]["has_more"] is False and rest["meta"]["next_cursor"] is None
    listed = {
        c["id"]: c
        for c in data(api.get("/v1/contacts", headers=h(owner), params={"search": marker}))
    }
    assert [x["id"] for x in listed[made[1]["id"]]["labels"]] == [label["id"]]

    bad = api.get("/v1/contacts", headers=h(agent), params={"limit": 0})
    assert bad.status_code == 422 and error_fields(bad) == {"limit"}
    bad = api.get("/v1/contacts", headers=h(agent), params={"cursor": "nope"})
    assert bad.status_code == 422 and error_fields(bad) == {"cursor"}

    assert data(api.get(f"/v1/contacts/{made[0]['id']}", headers=h(agent)))["id"] == made[0]["id"]
    assert api.get(f"/v1/contacts/{made[0]['id']}", headers=h(stranger)).status_code == 404
    assert api.get("/v1/contacts/abc", headers=h(agent)).status_code == 404


def test_contact_edit_and_delete_are_owner_only(
    api: httpx.Client, stack: Stack, team: dict[str, Any]
) -> None:
    owner, agent, stranger = team["owner"], team["agent"], team["stranger"]
    contact = data(
        api.post(
            "/v1/contacts",
            headers=h(agent),
            json={"contact_phone": new_phone(), "contact_name": "Rita", "notes": "VIP"},
        ),
        201,
    )
    path = f"/v1/contacts/{contact['id']}"
    refused = api.patch(path, headers=h(agent), json={"notes": "mine"})
    assert refused.status_code == 403
    assert api.patch(path, headers=h(stranger), json={"notes": "x"}).status_code == 404

    renamed = data(api.patch(path, headers=h(owner), json={"contact_name": "Rita Lee"}))
    assert (renamed["name"], renamed["notes"]) == ("Rita Lee", "VIP")  # notes untouched
    cleared = data(api.patch(path, headers=h(owner), json={"notes": None}))
    assert (cleared["name"], cleared["notes"]) == ("Rita Lee", None)
    same = data(api.patch(path, headers=h(owner), json={"notes": "  "}))
    assert same["updated_at"] == cleared["updated_at"]  # nothing changed, nothing announced
    for body, field in (
        ({"contact_phone": "5511999999999"}, "contact_phone"),
        ({"notes": "x" * 5001}, "notes"),
    ):
        bad = api.patch(path, headers=h(owner), json=body)
        assert bad.status_code == 422 and error_fields(bad) == {field}, bad.text
    events = contact_events(stack, contact["id"])
    assert [(s, list(e.changed)) for s, e in events] == [
        ("inbox.contact.created", []),
        ("inbox.contact.updated", ["name"]),
        ("inbox.contact.updated", ["notes"]),
    ]
    assert events[1][1].contact.name == "Rita Lee"

    [conversation] = sql(
        stack,
        "INSERT INTO inbox.conversations (tenant_id, contact_id, contact_phone, last_activity_at,"
        " created_at, updated_at) VALUES ($1, $2, $3, now(), now(), now()) RETURNING id",
        owner["tenant"]["id"],
        contact["id"],
        contact["phone"],
    )
    assert api.delete(path, headers=h(agent)).status_code == 403
    assert api.delete(path, headers=h(stranger)).status_code == 404
    assert api.delete(path, headers=h(owner)).status_code == 204
    assert api.get(path, headers=h(owner)).status_code == 404
    assert api.delete(path, headers=h(owner)).status_code == 404
    [kept] = sql(
        stack,
        "SELECT contact_id, contact_phone FROM inbox.conversations WHERE id = $1",
        conversation["id"],
    )
    assert (kept["contact_id"], kept["contact_phone"]) == (None, contact["phone"])
    subject, event = contact_events(stack, contact["id"])[-1]
    assert subject == "inbox.contact.deleted" and event.contact.name == "Rita Lee"
    assert conversation_updates(stack, conversation["id"]) == [(["contact_id"], "contact_deleted")]


def test_contact_labels_attach_idempotently_for_every_member(
    api: httpx.Client, stack: Stack, team: dict[str, Any]
) -> None:
    owner, agent, stranger = team["owner"], team["agent"], team["stranger"]
    label = data(api.post("/v1/labels", headers=h(owner), json={"name": "Repeat buyer"}), 201)
    foreign_label = data(api.post("/v1/labels", headers=h(stranger), json={"name": "Theirs"}), 201)
    contact = data(
        api.post("/v1/contacts", headers=h(agent), json={"contact_phone": new_phone()}), 201
    )
    path = f"/v1/contacts/{contact['id']}/labels/{label['id']}"

    attached = data(api.post(path, headers=h(agent)))
    assert [x["id"] for x in attached["labels"]] == [label["id"]]
    assert data(api.post(path, headers=h(agent))) == attached  # 200, same payload
    rows = sql(
        stack, "SELECT count(*) AS n FROM inbox.contact_labels WHERE contact_id = $1", contact["id"]
    )
    assert rows[0]["n"] == 1

    foreign = f"/v1/contacts/{contact['id']}/labels/{foreign_label['id']}"
    assert api.post(foreign, headers=h(agent)).status_code == 404
    assert api.post(path, headers=h(stranger)).status_code == 404
    assert api.delete(path, headers=h(stranger)).status_code == 404

    detached = data(api.delete(path, headers=h(agent)))
    assert detached["labels"] == []
    assert data(api.delete(path, headers=h(agent))) == detached
    changes = [list(e.changed) for s, e in contact_events(stack, contact["id"])]
    assert changes == [[], ["label_ids"], ["label_ids"]]


# ── custom fields ───────────────────────────────────────────────────────────────────────────


def test_custom_fields_need_the_plan_and_the_owner(
    api: httpx.Client, stack: Stack, team: dict[str, Any]
) -> None:
    starter = on_plan(api, stack, "starter")
    assert data(api.get("/v1/custom-field-definitions", headers=h(starter))) == []
    refused = api.post("/v1/custom-field-definitions", headers=h(starter), json={"name": "CPF"})
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "PLAN_FEATURE_REQUIRED"
    contact = data(
        api.post("/v1/contacts", headers=h(starter), json={"contact_phone": new_phone()}), 201
    )
    refused = api.put(
        f"/v1/contacts/{contact['id']}/custom-fields", headers=h(starter), json={"values": {}}
    )
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "PLAN_FEATURE_REQUIRED"

    owner, agent, stranger = team["owner"], team["agent"], team["stranger"]
    refused = api.post("/v1/custom-field-definitions", headers=h(agent), json={"name": "CPF"})
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "FORBIDDEN"
    tier = data(
        api.post("/v1/custom-field-definitions", headers=h(owner), json={"name": "Tier"}), 201
    )
    city = data(
        api.post("/v1/custom-field-definitions", headers=h(owner), json={"name": "City"}), 201
    )
    theirs = data(
        api.post("/v1/custom-field-definitions", headers=h(stranger), json={"name": "Tier"}), 201
    )
    taken = api.post("/v1/custom-field-definitions", headers=h(owner), json={"name": "tier"})
    assert taken.status_code == 409 and errors_of(taken)[0]["code"] == "CUSTOM_FIELD_EXISTS"
    listed = data(api.get("/v1/custom-field-definitions", headers=h(agent)))
    assert [d["id"] for d in listed][-2:] == [tier["id"], city["id"]]

    contact = data(
        api.post("/v1/contacts", headers=h(agent), json={"contact_phone": new_phone()}), 201
    )
    path = f"/v1/contacts/{contact['id']}/custom-fields"
    assert api.put(path, headers=h(agent), json={"values": {}}).status_code == 403
    assert api.put(path, headers=h(stranger), json={"values": {}}).status_code == 404
    body = {
        "values": {
            str(tier["id"]): " Gold ",
            str(city["id"]): "",
            str(theirs["id"]): "not mine",  # another workspace's definition: skipped
            "999999999": "unknown",
            "abc": "not an id",
        }
    }
    written = data(api.put(path, headers=h(owner), json=body))
    assert written["custom_fields"] == [
        {"definition_id": tier["id"], "name": "Tier", "value": "Gold"}
    ]
    again = data(api.put(path, headers=h(owner), json=body))
    assert again == written  # nothing changed: same payload, no event
    both = data(api.put(path, headers=h(owner), json={"values": {str(city["id"]): "Recife"}}))
    assert [(v["name"], v["value"]) for v in both["custom_fields"]] == [
        ("Tier", "Gold"),
        ("City", "Recife"),
    ]
    cleared = data(api.put(path, headers=h(owner), json={"values": {str(tier["id"]): None}}))
    assert [v["name"] for v in cleared["custom_fields"]] == ["City"]
    assert [list(e.changed) for _, e in contact_events(stack, contact["id"])] == [
        [],
        ["custom_fields"],
        ["custom_fields"],
        ["custom_fields"],
    ]
    for bad_body, field in (
        ({"values": {str(city["id"]): 12}}, f"values.{city['id']}"),
        ({"values": {str(city["id"]): "x" * 1001}}, f"values.{city['id']}"),
        ({"values": ["b"]}, "values"),
        ({}, "values"),
    ):
        bad = api.put(path, headers=h(owner), json=bad_body)
        assert bad.status_code == 422 and error_fields(bad) == {field}, (bad_body, bad.text)

    renamed = data(
        api.put(
            f"/v1/custom-field-definitions/{city['id']}", headers=h(owner), json={"name": "Town"}
        )
    )
    assert renamed["name"] == "Town"
    same = data(api.put(f"/v1/custom-field-definitions/{city['id']}", headers=h(owner), json={}))
    assert same == renamed
    assert (
        api.put(
            f"/v1/custom-field-definitions/{city['id']}", headers=h(stranger), json={"name": "x"}
        ).status_code
        == 404
    )
    assert (
        api.delete(f"/v1/custom-field-definitions/{city['id']}", headers=h(agent)).status_code
        == 403
    )
    assert (
        api.delete(f"/v1/custom-field-definitions/{city['id']}", headers=h(stranger)).status_code
        == 404
    )
    assert (
        api.delete(f"/v1/custom-field-definitions/{city['id']}", headers=h(owner)).status_code
        == 204
    )
    assert data(api.get(f"/v1/contacts/{contact['id']}", headers=h(agent)))["custom_fields"] == []
    rows = sql(
        stack,
        "SELECT count(*) AS n FROM inbox.custom_field_values WHERE definition_id = $1",
        city["id"],
    )
    assert rows[0]["n"] == 0


# ── reorder (saved replies and custom fields share the rule) ──────────────────────────────


def test_saved_replies_crud_and_reorder(api: httpx.Client, team: dict[str, Any]) -> None:
    owner, agent, stranger = team["owner"], team["agent"], team["stranger"]
    replies = [
        data(
            api.post(
                "/v1/saved-replies", headers=h(owner), json={"label": f"R{i}", "body": f"Body {i}"}
            ),
            201,
        )
        for i in range(5)
    ]
    ids = [r["id"] for r in replies]
    foreign = data(
        api.post("/v1/saved-replies", headers=h(stranger), json={"label": "X", "body": "Y"}), 201
    )
    assert (
        api.post(
            "/v1/saved-replies", headers=h(agent), json={"label": "a", "body": "b"}
        ).status_code
        == 403
    )
    bad = api.post("/v1/saved-replies", headers=h(owner), json={"label": "a"})
    assert bad.status_code == 422 and error_fields(bad) == {"body"}

    def order() -> list[int]:
        listed = data(api.get("/v1/saved-replies", headers=h(agent), params={"limit": 100}))
        return [r["id"] for r in listed if r["id"] in ids]

    assert order() == ids
    # A partial drag: the two ids sent swap their slots; the others keep theirs. The stranger's
    # id and repeats are dropped.
    moved = api.post(
        "/v1/saved-replies/reorder",
        headers=h(owner),
        json={"ids": [ids[3], foreign["id"], ids[1], ids[3]]},
    )
    expected = [ids[0], ids[3], ids[2], ids[1], ids[4]]
    assert [r["id"] for r in data(moved)] == expected
    assert order() == expected
    assert [r["id"] for r in data(api.get("/v1/saved-replies", headers=h(stranger)))] == [
        foreign["id"]
    ]
    assert (
        api.post("/v1/saved-replies/reorder", headers=h(agent), json={"ids": ids}).status_code
        == 403
    )
    for body, field in (({"ids": []}, "ids"), ({"ids": ["x"]}, "ids.0"), ({}, "ids")):
        bad = api.post("/v1/saved-replies/reorder", headers=h(owner), json=body)
        assert bad.status_code == 422 and error_fields(bad) == {field}, bad.text

    edited = data(
        api.put(f"/v1/saved-replies/{ids[0]}", headers=h(owner), json={"body": "New body"})
    )
    assert (edited["label"], edited["body"]) == ("R0", "New body")
    assert data(api.put(f"/v1/saved-replies/{ids[0]}", headers=h(owner), json={})) == edited
    assert (
        api.put(f"/v1/saved-replies/{ids[0]}", headers=h(stranger), json={"body": "x"}).status_code
        == 404
    )
    assert (
        api.put(f"/v1/saved-replies/{ids[0]}", headers=h(agent), json={"body": "x"}).status_code
        == 403
    )
    assert api.delete(f"/v1/saved-replies/{ids[0]}", headers=h(stranger)).status_code == 404
    assert api.delete(f"/v1/saved-replies/{ids[0]}", headers=h(owner)).status_code == 204
    assert order() == expected[1:]


def test_custom_field_reorder_follows_the_same_rule(
    api: httpx.Client, team: dict[str, Any]
) -> None:
    owner, stranger = team["owner"], team["stranger"]
    made = [
        data(
            api.post("/v1/custom-field-definitions", headers=h(owner), json={"name": f"Order {i}"}),
            201,
        )["id"]
        for i in range(3)
    ]
    theirs = data(
        api.post("/v1/custom-field-definitions", headers=h(stranger), json={"name": "Order X"}), 201
    )
    result = data(
        api.post(
            "/v1/custom-field-definitions/reorder",
            headers=h(owner),
            json={"ids": [made[2], theirs["id"], made[0]]},
        )
    )
    mine = [d["id"] for d in result if d["id"] in made]
    assert mine == [made[2], made[1], made[0]]
    assert theirs["id"] not in [d["id"] for d in result]
    positions = [d["position"] for d in result]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    stranger_view = data(api.get("/v1/custom-field-definitions", headers=h(stranger)))
    assert theirs["id"] in [d["id"] for d in stranger_view]
    assert not set(made) & {d["id"] for d in stranger_view}


# ── sectors ─────────────────────────────────────────────────────────────────────────────────


def test_sectors_hold_members_only(api: httpx.Client, stack: Stack, team: dict[str, Any]) -> None:
    owner, agent, stranger = team["owner"], team["agent"], team["stranger"]
    agent_id, owner_id = agent["user"]["id"], owner["user"]["id"]
    created = data(
        api.post(
            "/v1/sectors",
            headers=h(owner),
            json={
                "name": "Sales",
                "description": "New customers",
                "user_ids": [agent_id, agent_id],
            },
        ),
        201,
    )
    assert (created["name"], created["description"], created["user_ids"]) == (
        "Sales",
        "New customers",
        [agent_id],
    )
    foreign_user = stranger["user"]["id"]
    bad = api.post(
        "/v1/sectors",
        headers=h(owner),
        json={"name": "Support", "user_ids": [owner_id, foreign_user]},
    )
    assert bad.status_code == 422 and error_fields(bad) == {"user_ids.1"}
    assert api.post("/v1/sectors", headers=h(agent), json={"name": "Mine"}).status_code == 403
    taken = api.post("/v1/sectors", headers=h(owner), json={"name": "sales"})
    assert taken.status_code == 409 and errors_of(taken)[0]["code"] == "SECTOR_EXISTS"

    path = f"/v1/sectors/{created['id']}"
    renamed = data(api.put(path, headers=h(owner), json={"name": "Sales BR"}))
    assert (renamed["name"], renamed["user_ids"]) == ("Sales BR", [agent_id])  # agents kept
    replaced = data(api.put(path, headers=h(owner), json={"user_ids": [owner_id]}))
    assert replaced["user_ids"] == [owner_id]
    bad = api.put(path, headers=h(owner), json={"user_ids": [999999999]})
    assert bad.status_code == 422 and error_fields(bad) == {"user_ids.0"}
    emptied = data(api.put(path, headers=h(owner), json={"user_ids": [], "description": None}))
    assert (emptied["user_ids"], emptied["description"]) == ([], None)
    assert api.put(path, headers=h(agent), json={"name": "x"}).status_code == 403
    assert api.put(path, headers=h(stranger), json={"name": "x"}).status_code == 404
    listed = data(api.get("/v1/sectors", headers=h(agent)))
    assert {s["id"]: s["user_ids"] for s in listed}[created["id"]] == []
    assert created["id"] not in [s["id"] for s in data(api.get("/v1/sectors", headers=h(stranger)))]

    data(api.put(path, headers=h(owner), json={"user_ids": [agent_id]}))
    [conversation] = sql(
        stack,
        "INSERT INTO inbox.conversations (tenant_id, contact_phone, sector_id, last_activity_at,"
        " created_at, updated_at) VALUES ($1, $2, $3, now(), now(), now()) RETURNING id",
        owner["tenant"]["id"],
        new_phone(),
        created["id"],
    )
    assert api.delete(path, headers=h(agent)).status_code == 403
    assert api.delete(path, headers=h(stranger)).status_code == 404
    assert api.delete(path, headers=h(owner)).status_code == 204
    [kept] = sql(
        stack, "SELECT sector_id FROM inbox.conversations WHERE id = $1", conversation["id"]
    )
    assert kept["sector_id"] is None
    assert conversation_updates(stack, conversation["id"]) == [(["sector_id"], "sector_deleted")]
    members = sql(
        stack, "SELECT count(*) AS n FROM inbox.sector_members WHERE sector_id = $1", created["id"]
    )
    assert members[0]["n"] == 0


# ── API tokens ──────────────────────────────────────────────────────────────────────────────


def test_api_tokens_read_and_write_by_ability(api: httpx.Client, stack: Stack) -> None:
    owner = on_plan(api, stack, "business")

    def token(abilities: list[str]) -> dict[str, str]:
        minted = api.post(
            "/v1/api-tokens", headers=h(owner), json={"name": "crm", "abilities": abilities}
        )
        return bearer(data(minted, 201)["token"])

    reader, writer = token(["read"]), token(["read", "write"])
    created = data(
        api.post("/v1/contacts", headers=writer, json={"contact_phone": new_phone()}), 201
    )
    assert data(api.get(f"/v1/contacts/{created['id']}", headers=reader))["id"] == created["id"]
    assert data(api.get("/v1/labels", headers=reader)) == []
    refused = api.post("/v1/contacts", headers=reader, json={"contact_phone": new_phone()})
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "TOKEN_ABILITY_REQUIRED"
    # A token speaks for its owner: owner-only routes are open to it.
    assert (
        data(api.post("/v1/labels", headers=writer, json={"name": "From CRM"}), 201)["name"]
        == "From CRM"
    )


# ── workspace erasure ───────────────────────────────────────────────────────────────────────


def announce_erasure(stack: Stack, tenant_id: int) -> None:
    """Publishes identity.tenant.erased, as identity does when a deleted workspace's grace ends."""
    import asyncio
    import uuid

    import nats

    from plixa.identity.v1 import events_pb2 as identity_events
    from services.kit.messaging import ensure_stream

    async def publish() -> None:
        client = await nats.connect(stack.nats_url)
        try:
            js = client.jetstream()
            await ensure_stream(js, "identity")
            await js.publish(
                "identity.tenant.erased",
                identity_events.TenantErased(tenant_id=tenant_id).SerializeToString(),
                headers={"Nats-Msg-Id": uuid.uuid4().hex},
            )
        finally:
            await client.close()

    asyncio.run(publish())


def test_an_erased_workspace_loses_its_catalogue(api: httpx.Client, stack: Stack) -> None:
    import time

    owner = on_plan(api, stack, "professional")
    other = on_plan(api, stack, "professional")
    tenant_id = owner["tenant"]["id"]
    for who in (owner, other):
        field = data(
            api.post("/v1/custom-field-definitions", headers=h(who), json={"name": "Tier"}), 201
        )
        contact = data(
            api.post("/v1/contacts", headers=h(who), json={"contact_phone": new_phone()}), 201
        )
        values = {"values": {str(field["id"]): "Gold"}}
        data(api.put(f"/v1/contacts/{contact['id']}/custom-fields", headers=h(who), json=values))
        data(api.post("/v1/saved-replies", headers=h(who), json={"label": "a", "body": "b"}), 201)

    count = (
        "SELECT (SELECT count(*) FROM inbox.custom_field_definitions WHERE tenant_id = $1)"
        " + (SELECT count(*) FROM inbox.custom_field_values WHERE tenant_id = $1)"
        " + (SELECT count(*) FROM inbox.saved_replies WHERE tenant_id = $1) AS n"
    )
    assert sql(stack, count, tenant_id)[0]["n"] == 3
    announce_erasure(stack, tenant_id)
    deadline = time.monotonic() + PATIENCE_SECONDS
    while sql(stack, count, tenant_id)[0]["n"]:
        assert time.monotonic() < deadline, "the catalogue outlived its workspace"
        time.sleep(0.1)
    assert sql(stack, count, other["tenant"]["id"])[0]["n"] == 3


def test_bursts_make_one_row(api: httpx.Client, stack: Stack, team: dict[str, Any]) -> None:
    owner, agent = team["owner"], team["agent"]
    base = str(api.base_url)

    def post(path: str, who: dict[str, Any], body: dict[str, Any] | None = None) -> int:
        with httpx.Client(base_url=base, timeout=15) as client:
            return client.post(path, headers=h(who), json=body).status_code

    name = f"Burst {new_phone()[-6:]}"
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: post("/v1/labels", owner, {"name": name}), range(6)))
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    [label] = [
        x
        for x in data(api.get("/v1/labels", headers=h(owner), params={"limit": 100}))
        if x["name"] == name
    ]

    contact = data(
        api.post("/v1/contacts", headers=h(agent), json={"contact_phone": new_phone()}), 201
    )
    path = f"/v1/contacts/{contact['id']}/labels/{label['id']}"
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: post(path, agent), range(6)))
    assert statuses == [200] * 6
    rows = sql(
        stack, "SELECT count(*) AS n FROM inbox.contact_labels WHERE contact_id = $1", contact["id"]
    )
    assert rows[0]["n"] == 1
    assert [list(e.changed) for _, e in contact_events(stack, contact["id"])] == [[], ["label_ids"]]


def test_a_replayed_creation_answers_the_first_answer(
    api: httpx.Client, stack: Stack, team: dict[str, Any]
) -> None:
    owner = team["owner"]
    name = f"Replay {new_phone()[-6:]}"
    headers = {**h(owner), "Idempotency-Key": f"reply-{name}"}
    first = api.post("/v1/saved-replies", headers=headers, json={"label": name, "body": "Hi"})
    second = api.post("/v1/saved-replies", headers=headers, json={"label": name, "body": "Hi"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    rows = sql(stack, "SELECT count(*) AS n FROM inbox.saved_replies WHERE label = $1", name)
    assert rows[0]["n"] == 1
