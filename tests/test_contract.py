"""The data contract over HTTP: PATCH (and the settings PUTs) change exactly the keys sent, a
query parameter may not contradict the body, and the cache invalidation that follows from the
events reaches the gateway that carried the call at once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from scripts.mesh import Stack, free_port
from tests.conftest import PASSWORD, bearer, error_fields, errors_of, register, sql
from tests.test_two_factor import enable_two_factor

# ── PATCH /v1/me ────────────────────────────────────────────────────────────────────────────


def me(api: httpx.Client, token: str) -> dict[str, object]:
    response = api.get("/v1/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    user: dict[str, object] = response.json()["data"]["user"]
    return user


def test_patch_changes_exactly_the_keys_sent(api: httpx.Client) -> None:
    token = register(api, name="Ana Lima", locale="pt-BR")["token"]

    renamed = api.patch("/v1/me", headers=bearer(token), json={"name": "Ana L."})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["data"]["user"]["name"] == "Ana L."
    assert renamed.json()["data"]["user"]["locale"] == "pt-BR"  # not sent: unchanged

    relocated = api.patch("/v1/me", headers=bearer(token), json={"locale": "es"})
    assert relocated.status_code == 200, relocated.text
    assert (me(api, token)["name"], me(api, token)["locale"]) == ("Ana L.", "es")

    untouched = api.patch("/v1/me", headers=bearer(token), json={})
    assert untouched.status_code == 200, untouched.text
    assert (me(api, token)["name"], me(api, token)["locale"]) == ("Ana L.", "es")


def test_patch_with_a_key_sent_as_null_is_refused_not_ignored(api: httpx.Client) -> None:
    token = register(api, name="Bo Silva")["token"]
    before = me(api, token)

    nulled = api.patch("/v1/me", headers=bearer(token), json={"name": None, "locale": "es"})
    assert nulled.status_code == 422, nulled.text
    assert errors_of(nulled)[0]["code"] == "VALIDATION_FAILED"
    assert error_fields(nulled) == {"name"}
    assert me(api, token) == before  # nothing of a refused PATCH applies

    locale_nulled = api.patch("/v1/me", headers=bearer(token), json={"locale": None})
    assert locale_nulled.status_code == 422
    assert error_fields(locale_nulled) == {"locale"}


def test_the_settings_puts_follow_the_same_mask_rule(api: httpx.Client) -> None:
    token = register(api)["token"]
    config = api.get("/v1/workspace-config", headers=bearer(token)).json()["data"]

    changed = api.put("/v1/workspace-config", headers=bearer(token), json={"currency": "EUR"})
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["currency"] == "EUR"
    assert (data["timezone"], data["locale"]) == (config["timezone"], config["locale"])

    nulled = api.put("/v1/workspace-config", headers=bearer(token), json={"timezone": None})
    assert nulled.status_code == 422
    assert error_fields(nulled) == {"timezone"}

    security = api.put(
        "/v1/security-config",
        headers=bearer(token),
        json={"agent_restricted_to_own_conversations": True},
    )
    assert security.status_code == 200, security.text
    assert security.json()["data"] == {
        "require_two_factor": False,
        "agent_restricted_to_own_conversations": True,
    }
    toggled_null = api.put(
        "/v1/security-config", headers=bearer(token), json={"require_two_factor": None}
    )
    assert toggled_null.status_code == 422
    assert error_fields(toggled_null) == {"require_two_factor"}


# ── query string against body ───────────────────────────────────────────────────────────────


def test_a_query_parameter_contradicting_the_body_is_422(api: httpx.Client) -> None:
    token = register(api, name="Cris Souza")["token"]

    clash = api.patch(
        "/v1/me", params={"name": "Someone Else"}, headers=bearer(token), json={"name": "Cris S."}
    )
    assert clash.status_code == 422, clash.text
    assert errors_of(clash)[0]["code"] == "VALIDATION_FAILED"
    assert error_fields(clash) == {"name"}
    assert me(api, token)["name"] == "Cris Souza"

    null_in_body = api.patch(
        "/v1/me", params={"locale": "es"}, headers=bearer(token), json={"locale": None}
    )
    assert null_in_body.status_code == 422
    assert error_fields(null_in_body) == {"locale"}

    agreeing = api.patch(
        "/v1/me", params={"name": "Cris S."}, headers=bearer(token), json={"name": "Cris S."}
    )
    assert agreeing.status_code == 200, agreeing.text
    assert me(api, token)["name"] == "Cris S."


# ── invalidation from events ────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def deaf_gateway(stack: Stack) -> Iterator[str]:
    """A gateway whose NATS is unreachable: it never hears identity's events, so the only thing
    that can drop its cached principals is the trailing metadata of the calls it carries."""
    env = {
        "PLIXA_NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "PLIXA_TOKEN_CACHE_SECONDS": "300",
    }
    url = stack.start_gateway("gateway-deaf", env=env)
    yield url
    stack.stop_process("gateway-deaf")


def set_role(stack: Stack, user_id: int, role: str) -> None:
    """Changed behind identity's back, so no event announces it."""
    sql(stack, "UPDATE identity.users SET role = $1 WHERE id = $2", role, user_id)


def test_recovery_code_changes_drop_the_cached_principal_at_once(
    api: httpx.Client, stack: Stack, deaf_gateway: str
) -> None:
    owner = register(api)
    token, user_id = owner["token"], owner["user"]["id"]
    _, codes = enable_two_factor(api, token)
    deaf = httpx.Client(base_url=deaf_gateway, headers=bearer(token), timeout=10)
    owner_only = "/v1/team/invitations"
    assert deaf.get(owner_only).status_code == 200  # the owner's principal is cached now

    set_role(stack, user_id, "agent")
    assert deaf.get(owner_only).status_code == 200  # stale: the cache still says owner
    regenerated = deaf.post("/v1/me/2fa/recovery-codes", json={"password": PASSWORD})
    assert regenerated.status_code == 200, regenerated.text
    assert deaf.get(owner_only).status_code == 403  # AccessChanged dropped it at once

    set_role(stack, user_id, "owner")
    assert deaf.get(owner_only).status_code == 403  # cached again, as an agent
    code = regenerated.json()["data"]["recovery_codes"][0]
    assert code not in codes
    revoked = deaf.post(
        "/v1/me/2fa/recovery-codes/revoke", json={"password": PASSWORD, "code": code}
    )
    assert revoked.status_code == 200, revoked.text
    assert deaf.get(owner_only).status_code == 200


def test_a_refused_call_invalidates_nothing_and_sign_out_still_does(
    api: httpx.Client, stack: Stack, deaf_gateway: str
) -> None:
    owner = register(api)
    token, user_id = owner["token"], owner["user"]["id"]
    deaf = httpx.Client(base_url=deaf_gateway, headers=bearer(token), timeout=10)
    assert deaf.get("/v1/team/invitations").status_code == 200
    set_role(stack, user_id, "agent")
    wrong = deaf.post("/v1/me/2fa/recovery-codes", json={"password": "not-the-password"})
    assert wrong.status_code == 422
    assert deaf.get("/v1/team/invitations").status_code == 200  # still the cached owner

    assert deaf.post("/v1/auth/logout").status_code == 204
    assert deaf.get("/v1/me").status_code == 401  # TokenRevoked → the token's entry is gone
