"""Identity core through the real gateway: registration, sign-in, sign-out, the profile."""

from __future__ import annotations

import httpx

from scripts.mesh import Stack
from tests.conftest import (
    PASSWORD,
    bearer,
    error_fields,
    errors_of,
    register,
    registration,
    sql,
    unique_email,
)


def test_register_creates_workspace_owner_and_token(api: httpx.Client, stack: Stack) -> None:
    email = unique_email()
    response = api.post("/v1/auth/register", json=registration(email=email))

    assert response.status_code == 201
    body = response.json()
    assert body["meta"] is None and body["errors"] is None
    data = body["data"]
    assert data["user"] == {
        "id": data["user"]["id"],
        "tenant_id": data["tenant"]["id"],
        "name": "Lucia Pereira",
        "email": email,
        "role": "owner",
        "locale": "pt",
    }
    assert isinstance(data["user"]["id"], int) and isinstance(data["tenant"]["id"], int)
    tenant = data["tenant"]
    assert tenant["name"] == "Lucia Studios"
    assert (
        tenant["slug"].startswith("lucia-studios-")
        and len(tenant["slug"]) == len("lucia-studios-") + 6
    )
    assert (tenant["country_code"], tenant["timezone"], tenant["locale"], tenant["status"]) == (
        "BR",
        "America/Sao_Paulo",
        "pt",
        "active",
    )
    token_id, _, secret = data["token"].partition("|")
    assert token_id.isdigit() and len(secret) >= 40

    # Only hashes are at rest: neither the password nor the token secret is stored.
    [user] = sql(
        stack, "SELECT password_hash FROM identity.users WHERE id = $1", data["user"]["id"]
    )
    assert user["password_hash"].startswith("scrypt$") and PASSWORD not in user["password_hash"]
    [token] = sql(
        stack, "SELECT secret_hash, kind FROM identity.tokens WHERE id = $1", int(token_id)
    )
    assert token["kind"] == "panel" and secret.encode() not in bytes(token["secret_hash"])

    me = api.get("/v1/me", headers=bearer(data["token"]))
    assert me.status_code == 200
    assert me.json()["data"] == {"user": data["user"], "tenant": data["tenant"]}


def test_register_emits_user_registered_through_the_outbox(api: httpx.Client, stack: Stack) -> None:
    data = register(api)
    rows = sql(
        stack,
        "SELECT subject FROM identity.outbox WHERE tenant_id = $1",
        data["tenant"]["id"],
    )
    assert [r["subject"] for r in rows] == ["identity.user.registered"]


def test_same_company_name_gets_distinct_slugs(api: httpx.Client) -> None:
    first = register(api, company_name="Padaria Pão Quente")
    second = register(api, company_name="Padaria Pão Quente")
    assert first["tenant"]["slug"].startswith("padaria-pao-quente-")
    assert first["tenant"]["slug"] != second["tenant"]["slug"]


def test_register_refuses_an_email_taken_in_any_case(api: httpx.Client) -> None:
    email = unique_email()
    register(api, email=email)
    response = api.post("/v1/auth/register", json=registration(email=email.upper()))
    assert response.status_code == 422
    assert errors_of(response) == [
        {
            "code": "VALIDATION_FAILED",
            "message": "The email has already been taken.",
            "field": "email",
        }
    ]


def test_register_validates_every_field_at_once(api: httpx.Client) -> None:
    response = api.post(
        "/v1/auth/register",
        json=registration(
            name="",
            email="not-an-email",
            password="short",
            password_confirmation="different",
            company_name="",
            country_code="XX",
            timezone="Mars/Olympus_Mons",
            locale="portuguese!",
        ),
    )
    assert response.status_code == 422
    assert error_fields(response) == {
        "name",
        "email",
        "password",
        "company_name",
        "country_code",
        "timezone",
        "locale",
    }
    assert {e["code"] for e in errors_of(response)} == {"VALIDATION_FAILED"}


def test_register_requires_matching_confirmation(api: httpx.Client) -> None:
    email = unique_email()
    response = api.post(
        "/v1/auth/register",
        json=registration(email=email, password_confirmation="super-secret-px"),
    )
    assert response.status_code == 422
    assert errors_of(response)[0]["field"] == "password"
    # Nothing was created: the same email can register afterwards.
    register(api, email=email)


def test_register_refuses_unknown_fields_and_wrong_types(api: httpx.Client) -> None:
    unknown = api.post("/v1/auth/register", json=registration(role="staff"))
    assert unknown.status_code == 422
    assert error_fields(unknown) == {"role"}

    wrong_type = api.post("/v1/auth/register", json=registration(country_code=55))
    assert wrong_type.status_code == 422
    assert errors_of(wrong_type) == [
        {
            "code": "VALIDATION_FAILED",
            "message": "The country_code must be a string.",
            "field": "country_code",
        }
    ]


def test_login_is_case_insensitive_and_issues_a_new_token(api: httpx.Client) -> None:
    email = unique_email()
    registered = register(api, email=email)
    response = api.post("/v1/auth/login", json={"email": email.upper(), "password": PASSWORD})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["user"] == registered["user"]
    assert data["token"] != registered["token"]
    assert api.get("/v1/me", headers=bearer(data["token"])).status_code == 200


def test_wrong_email_and_wrong_password_look_the_same(api: httpx.Client) -> None:
    email = unique_email()
    register(api, email=email)
    wrong_password = api.post("/v1/auth/login", json={"email": email, "password": "nope-nope-nope"})
    wrong_email = api.post(
        "/v1/auth/login", json={"email": unique_email("ghost"), "password": PASSWORD}
    )
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.json() == wrong_email.json()
    assert errors_of(wrong_password)[0]["code"] == "INVALID_CREDENTIALS"


def test_repeated_failures_are_throttled_even_with_the_right_password(api: httpx.Client) -> None:
    email = unique_email()
    register(api, email=email)
    for _ in range(5):
        failed = api.post("/v1/auth/login", json={"email": email, "password": "wrong-password"})
        assert failed.status_code == 401
    throttled = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert throttled.status_code == 429
    assert errors_of(throttled)[0]["code"] == "RATE_LIMITED"
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    # Another account is not affected.
    other = unique_email()
    register(api, email=other)
    assert (
        api.post("/v1/auth/login", json={"email": other, "password": PASSWORD}).status_code == 200
    )


def test_logout_revokes_only_the_calling_token_at_once(api: httpx.Client) -> None:
    email = unique_email()
    first = register(api, email=email)["token"]
    second = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["data"][
        "token"
    ]
    # Warm the gateway's cache for the first token, then revoke it.
    assert api.get("/v1/me", headers=bearer(first)).status_code == 200
    logout = api.post("/v1/auth/logout", headers=bearer(first))
    assert logout.status_code == 204 and logout.content == b""

    refused = api.get("/v1/me", headers=bearer(first))
    assert refused.status_code == 401
    assert errors_of(refused)[0]["code"] == "UNAUTHENTICATED"
    assert api.get("/v1/me", headers=bearer(second)).status_code == 200


def test_bad_bearer_tokens_are_401(api: httpx.Client) -> None:
    token = register(api)["token"]
    token_id, _, secret = token.partition("|")
    wrong_last = "y" if secret.endswith("x") else "x"  # always a different secret
    for header in (
        {},
        {"Authorization": "Basic abc"},
        bearer("garbage"),
        bearer(f"{token_id}|{secret[:-1]}{wrong_last}"),
        bearer(f"999999999|{secret}"),
    ):
        response = api.get("/v1/me", headers=header)
        assert response.status_code == 401, header
        assert errors_of(response)[0]["code"] == "UNAUTHENTICATED"


def test_patch_me_changes_only_name_and_locale(api: httpx.Client) -> None:
    data = register(api)
    headers = bearer(data["token"])

    changed = api.patch("/v1/me", headers=headers, json={"name": "Lu Pereira"})
    assert changed.status_code == 200
    assert changed.json()["data"]["user"]["name"] == "Lu Pereira"
    assert changed.json()["data"]["user"]["locale"] == "pt"  # untouched: not sent

    locale = api.patch("/v1/me", headers=headers, json={"locale": "pt-BR"})
    assert locale.json()["data"]["user"] == {
        **data["user"],
        "name": "Lu Pereira",
        "locale": "pt-BR",
    }

    for forbidden_change in ({"role": "agent"}, {"email": "x@example.com"}, {"tenant_id": 1}):
        refused = api.patch("/v1/me", headers=headers, json={"name": "Hacker", **forbidden_change})
        assert refused.status_code == 422
        assert error_fields(refused) == set(forbidden_change)
    after = api.get("/v1/me", headers=headers).json()["data"]["user"]
    assert (after["name"], after["role"], after["email"]) == (
        "Lu Pereira",
        "owner",
        data["user"]["email"],
    )

    blank = api.patch("/v1/me", headers=headers, json={"name": "  "})
    assert blank.status_code == 422 and error_fields(blank) == {"name"}
    bad_locale = api.patch("/v1/me", headers=headers, json={"locale": "??"})
    assert bad_locale.status_code == 422 and error_fields(bad_locale) == {"locale"}


def test_another_tenants_member_is_not_found(api: httpx.Client) -> None:
    first = register(api)
    second = register(api)
    own = api.get(f"/v1/team/members/{first['user']['id']}", headers=bearer(first["token"]))
    assert own.status_code == 200 and own.json()["data"] == first["user"]

    foreign = api.get(f"/v1/team/members/{first['user']['id']}", headers=bearer(second["token"]))
    missing = api.get("/v1/team/members/987654321", headers=bearer(second["token"]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert errors_of(foreign)[0]["code"] == "NOT_FOUND"
    not_a_number = api.get("/v1/team/members/abc", headers=bearer(second["token"]))
    assert not_a_number.status_code == 404
