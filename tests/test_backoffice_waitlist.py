"""The public waitlist through the gateway: idempotent per email (case-insensitively), limited
per client address, validated; staff list it."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx

from scripts.mesh import Stack
from tests.conftest import bearer, errors_of, register, sql, unique_email
from tests.test_backoffice_tenants import staff  # noqa: F401


def test_sign_up_is_idempotent_per_email_and_staff_see_it(
    api: httpx.Client,
    stack: Stack,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    sql(stack, "DELETE FROM backoffice.waitlist_attempts")
    email = unique_email("early")
    body = {"email": email, "locale": "en-US", "referrer": "https://news.ycombinator.com/"}
    first = api.post("/v1/waitlist", json=body)
    assert first.status_code == 201, first.text
    data = first.json()["data"]
    assert data["email"] == email and set(data) == {"id", "email", "created_at"}
    again = api.post("/v1/waitlist", json={"email": email.upper()})
    assert again.status_code == 201 and again.json()["data"] == data

    listed = api.get("/v1/admin/waitlist", headers=bearer(staff["token"]), params={"q": email})
    (entry,) = listed.json()["data"]
    assert (entry["id"], entry["locale"], entry["referrer"]) == (
        data["id"],
        "en-US",
        "https://news.ycombinator.com/",
    )
    owner = register(api)
    assert api.get("/v1/admin/waitlist", headers=bearer(owner["token"])).status_code == 403

    for bad, field in [
        ({"email": "not-an-email"}, "email"),
        ({}, "email"),
        ({"email": email, "locale": "xx_YYYYYY"}, "locale"),
    ]:
        response = api.post("/v1/waitlist", json=bad)
        assert response.status_code == 422, response.text
        assert errors_of(response)[0]["field"] == field


def test_a_parallel_burst_of_one_email_makes_one_entry_and_the_address_is_limited(
    api: httpx.Client, stack: Stack, gateway_url: str
) -> None:
    sql(stack, "DELETE FROM backoffice.waitlist_attempts")
    email = unique_email("burst")

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=gateway_url, timeout=15) as client:
            return client.post("/v1/waitlist", json={"email": email})

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(post, range(5)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["data"]["id"] for a in answers}) == 1
    assert (
        sql(stack, "SELECT count(*) FROM backoffice.waitlist WHERE lower(email) = $1", email)[0][0]
        == 1
    )

    # The default limit is 10 per address and hour: 5 used above.
    for _ in range(5):
        assert api.post("/v1/waitlist", json={"email": unique_email("more")}).status_code == 201
    limited = api.post("/v1/waitlist", json={"email": unique_email("more")})
    assert limited.status_code == 429 and errors_of(limited)[0]["code"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) > 0
    sql(stack, "DELETE FROM backoffice.waitlist_attempts")
