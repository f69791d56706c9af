"""Cursor paging of identity's lists through the gateway: walking `meta.next_cursor` yields every
item once in the list's order, the last page says `has_more: false`, a bad `limit` or `cursor` is
a 422 naming it, and a cursor never shows one workspace's items to another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway import transcode
from gateway.errors import GatewayError
from plixa.identity.v1 import team_pb2
from scripts.mesh import Stack
from tests.conftest import bearer, error_fields, register, unique_email
from tests.test_api_tokens import business_owner
from tests.test_team import invite, join

LISTS = ("/v1/team/members", "/v1/team/invitations", "/v1/team/availability", "/v1/api-tokens")
# What the `workspace` fixture creates: 4 agents join (4 accepted + 3 pending invitations).
SIZES = {
    "/v1/team/members": 5,
    "/v1/team/invitations": 7,
    "/v1/team/availability": 5,
    "/v1/api-tokens": 5,
}


def walk(api: httpx.Client, path: str, token: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a list, page by page; checks each page's meta on the way."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = api.get(path, headers=bearer(token), params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        meta = body["meta"]
        assert set(meta) == {"next_cursor", "has_more", "limit"} and meta["limit"] == limit
        assert len(body["data"]) <= limit
        items.extend(body["data"])
        if not meta["has_more"]:
            assert meta["next_cursor"] is None
            return items
        assert len(body["data"]) == limit and isinstance(meta["next_cursor"], str)
        cursor = meta["next_cursor"]
    raise AssertionError(f"{path} never reached its last page")


@pytest.fixture(scope="module")
def workspace(api_module: httpx.Client, stack: Stack) -> dict[str, Any]:
    """A business workspace with 5 members (two share a name), 7 invitations and 5 API tokens."""
    api = api_module
    owner = business_owner(api, stack)
    token = str(owner["token"])
    for name in ("Bea", "Ana", "Bea", "Caio"):
        join(api, token, name=name)
    for _ in range(3):
        assert invite(api, token, unique_email("pending")).status_code == 201
    for n in range(5):
        created = api.post("/v1/api-tokens", headers=bearer(token), json={"name": f"CRM {n}"})
        assert created.status_code == 201, created.text
    return {"token": token, "tenant_id": owner["tenant"]["id"]}


@pytest.fixture(scope="module")
def api_module(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=15) as client:
        yield client


@pytest.mark.parametrize("path", LISTS)
def test_walking_the_pages_yields_every_item_once_in_order(
    api: httpx.Client, workspace: dict[str, Any], path: str
) -> None:
    whole = api.get(path, headers=bearer(workspace["token"]))
    assert whole.status_code == 200
    assert whole.json()["meta"] == {"next_cursor": None, "has_more": False, "limit": 25}
    everything = whole.json()["data"]
    assert len(everything) == SIZES[path]
    for limit in (1, 2, 3, 5):
        assert walk(api, path, workspace["token"], limit) == everything


def test_each_list_keeps_its_documented_order(api: httpx.Client, workspace: dict[str, Any]) -> None:
    def listed(path: str) -> list[dict[str, Any]]:
        return walk(api, path, workspace["token"], 2)

    members = [m["id"] for m in listed("/v1/team/members")]
    assert members == sorted(members)  # who joined first
    tokens = [t["id"] for t in listed("/v1/api-tokens")]
    assert tokens == sorted(tokens) and len(tokens) == 5
    invitations = [(i["created_at"], i["id"]) for i in listed("/v1/team/invitations")]
    assert invitations == sorted(invitations, reverse=True)  # newest first
    team = [(m["name"], m["user_id"]) for m in listed("/v1/team/availability")]
    assert team == sorted(team)  # by name; the two Beas by id
    assert [name for name, _ in team].count("Bea") == 2


@pytest.mark.parametrize("limit", ["0", "101", "-3", "ten", "2.5"])
def test_a_limit_out_of_range_or_not_a_number_is_refused(
    api: httpx.Client, workspace: dict[str, Any], limit: str
) -> None:
    for path in LISTS:
        response = api.get(path, headers=bearer(workspace["token"]), params={"limit": limit})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["code"] == "VALIDATION_FAILED"
        assert error_fields(response) == {"limit"}


def test_a_malformed_or_foreign_cursor_is_refused(
    api: httpx.Client, workspace: dict[str, Any]
) -> None:
    headers = bearer(workspace["token"])
    members_cursor = api.get("/v1/team/members", headers=headers, params={"limit": 1}).json()[
        "meta"
    ]["next_cursor"]
    tampered = members_cursor[:-2] + ("AA" if members_cursor[-2:] != "AA" else "BB")
    for path in LISTS:
        for cursor in ("nonsense", "eyJpZCI6IDF9", tampered):
            response = api.get(path, headers=headers, params={"cursor": cursor})
            assert response.status_code == 422, (path, cursor, response.text)
            assert error_fields(response) == {"cursor"}
    # A cursor of one list does not resume another.
    for path in LISTS[1:]:
        response = api.get(path, headers=headers, params={"cursor": members_cursor})
        assert response.status_code == 422 and error_fields(response) == {"cursor"}


def test_a_cursor_carries_no_authority_across_workspaces(
    api: httpx.Client, workspace: dict[str, Any]
) -> None:
    mine = {path: {_id(item) for item in walk(api, path, workspace["token"], 25)} for path in LISTS}
    other = register(api)
    other_member_ids = {other["user"]["id"]}
    for path in ("/v1/team/members", "/v1/team/availability"):
        first = api.get(path, headers=bearer(workspace["token"]), params={"limit": 1})
        cursor = first.json()["meta"]["next_cursor"]
        replayed = api.get(path, headers=bearer(other["token"]), params={"cursor": cursor})
        assert replayed.status_code == 200, replayed.text
        seen = {_id(item) for item in replayed.json()["data"]}
        assert not seen & mine[path]
        assert seen <= other_member_ids
        # And the other workspace's own walk never meets the first one's items.
        walked = {_id(item) for item in walk(api, path, other["token"], 1)}
        assert walked == other_member_ids
    invitations = api.get(
        "/v1/team/invitations",
        headers=bearer(workspace["token"]),
        params={"limit": 1},
    ).json()["meta"]["next_cursor"]
    replayed = api.get(
        "/v1/team/invitations", headers=bearer(other["token"]), params={"cursor": invitations}
    )
    assert replayed.status_code == 200 and replayed.json()["data"] == []


def _id(item: dict[str, Any]) -> int:
    return int(item["id"] if "id" in item else item["user_id"])


def test_cursor_and_limit_are_read_from_the_top_level_of_the_query() -> None:
    request = team_pb2.ListMembersRequest()
    query = [("limit", "10"), ("cursor", "abc"), ("page", "x"), ("utm_source", "mail")]
    transcode.apply_query(request, query, skip=set())
    assert request.page.limit == 10 and request.page.cursor == "abc"
    absent = team_pb2.ListMembersRequest()
    transcode.apply_query(absent, [], skip=set())
    assert not absent.page.HasField("limit") and not absent.page.HasField("cursor")
    with pytest.raises(GatewayError) as refused:
        transcode.apply_query(team_pb2.ListMembersRequest(), [("limit", "many")], skip=set())
    assert refused.value.detail.fields[0].field == "limit"


def test_the_openapi_documents_paging(api: httpx.Client) -> None:
    spec = api.get("/v1/openapi.json").json()
    for path in LISTS:
        operation = spec["paths"][path]["get"]
        params = {p["name"]: p for p in operation["parameters"]}
        assert params["cursor"]["in"] == "query" and params["limit"]["in"] == "query"
        assert params["limit"]["schema"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": 100,
            "default": 25,
        }
        assert "page" not in params
        envelope = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert envelope["properties"]["meta"] == {
            "$ref": "#/components/schemas/plixa.common.v1.PageMeta"
        }
    page_meta = spec["components"]["schemas"]["plixa.common.v1.PageMeta"]
    assert set(page_meta["required"]) == {"next_cursor", "has_more", "limit"}
    assert page_meta["properties"]["has_more"] == {"type": "boolean"}
    # An operation that is not a list keeps no paging parameters.
    me = spec["paths"]["/v1/me"]["get"]
    assert not {p["name"] for p in me["parameters"]} & {"cursor", "limit"}
