"""Two-factor sign-in with a real TOTP clock (pyotp), recovery codes, and the workspace rule that
every member must have it."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx
import pyotp

from scripts.mesh import Stack
from tests.conftest import PASSWORD, bearer, error_fields, errors_of, register, sql, unique_email


def enable_two_factor(api: httpx.Client, token: str) -> tuple[pyotp.TOTP, list[str]]:
    setup = api.post("/v1/me/2fa/setup", headers=bearer(token), json={"password": PASSWORD})
    assert setup.status_code == 200, setup.text
    data = setup.json()["data"]
    totp = pyotp.TOTP(data["secret"])
    assert data["otpauth_uri"].startswith("otpauth://totp/Plixa:")
    confirm = api.post("/v1/me/2fa/confirm", headers=bearer(token), json={"code": totp.now()})
    assert confirm.status_code == 200, confirm.text
    return totp, confirm.json()["data"]["recovery_codes"]


def login(api: httpx.Client, email: str) -> dict[str, Any]:
    response = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def next_code(totp: pyotp.TOTP) -> str:
    """A code of the next time step: the current one was spent by the previous call."""
    return totp.at(time.time() + totp.interval)


def test_setup_confirm_and_sign_in_with_a_challenge(api: httpx.Client, stack: Stack) -> None:
    email = unique_email()
    owner = register(api, email=email)
    assert api.get("/v1/me/2fa", headers=bearer(owner["token"])).json()["data"] == {
        "enabled": False,
        "pending_confirmation": False,
        "recovery_codes_remaining": 0,
        "enabled_at": None,
    }
    totp, codes = enable_two_factor(api, owner["token"])
    assert len(codes) == 8 and len(set(codes)) == 8
    status = api.get("/v1/me/2fa", headers=bearer(owner["token"])).json()["data"]
    assert status["enabled"] is True and status["recovery_codes_remaining"] == 8
    assert status["enabled_at"].endswith("+00:00")

    # At rest: the seed is sealed and the codes are digests.
    [row] = sql(
        stack, "SELECT two_factor_secret FROM identity.users WHERE id = $1", owner["user"]["id"]
    )
    assert totp.secret not in row["two_factor_secret"]
    hashes = sql(
        stack,
        "SELECT code_hash FROM identity.recovery_codes WHERE user_id = $1",
        owner["user"]["id"],
    )
    assert all(codes[0].encode() not in bytes(h["code_hash"]) for h in hashes)

    challenge = login(api, email)
    assert challenge["two_factor"] is True
    # The challenge token opens nothing but the challenge.
    refused = api.get("/v1/me", headers=bearer(challenge["token"]))
    assert refused.status_code == 401
    assert errors_of(refused)[0]["code"] == "TWO_FACTOR_CHALLENGE_REQUIRED"

    wrong = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge["token"]), json={"code": "000000"}
    )
    assert wrong.status_code == 422 and error_fields(wrong) == {"code"}

    done = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge["token"]), json={"code": next_code(totp)}
    )
    assert done.status_code == 200, done.text
    session = done.json()["data"]
    assert session["two_factor"] is False and session["user"]["email"] == email
    assert api.get("/v1/me", headers=bearer(session["token"])).status_code == 200
    # The spent challenge token is dead.
    again = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge["token"]), json={"code": totp.now()}
    )
    assert again.status_code == 401
    # A full token cannot open a challenge.
    assert (
        api.post(
            "/v1/auth/2fa-challenge", headers=bearer(session["token"]), json={"code": totp.now()}
        ).status_code
        == 403
    )


def test_a_replayed_totp_code_is_refused(api: httpx.Client) -> None:
    email = unique_email()
    owner = register(api, email=email)
    totp, _ = enable_two_factor(api, owner["token"])
    code = next_code(totp)
    first = login(api, email)["token"]
    assert (
        api.post("/v1/auth/2fa-challenge", headers=bearer(first), json={"code": code}).status_code
        == 200
    )
    second = login(api, email)["token"]
    replay = api.post("/v1/auth/2fa-challenge", headers=bearer(second), json={"code": code})
    assert replay.status_code == 422


def test_recovery_codes_work_once_and_can_be_revoked_or_regenerated(api: httpx.Client) -> None:
    email = unique_email()
    owner = register(api, email=email)
    headers = bearer(owner["token"])
    _, codes = enable_two_factor(api, owner["token"])

    challenge = login(api, email)["token"]
    used = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge), json={"recovery_code": codes[0]}
    )
    assert used.status_code == 200
    challenge = login(api, email)["token"]
    reused = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge), json={"recovery_code": codes[0]}
    )
    assert reused.status_code == 422 and error_fields(reused) == {"recovery_code"}

    revoke = api.post(
        "/v1/me/2fa/recovery-codes/revoke",
        headers=headers,
        json={"password": PASSWORD, "code": codes[1]},
    )
    assert revoke.status_code == 200 and revoke.json()["data"] == {"remaining": 6}
    revoked = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge), json={"recovery_code": codes[1]}
    )
    assert revoked.status_code == 422

    bad_password = api.post(
        "/v1/me/2fa/recovery-codes", headers=headers, json={"password": "not-my-password"}
    )
    assert bad_password.status_code == 422 and error_fields(bad_password) == {"password"}
    fresh = api.post("/v1/me/2fa/recovery-codes", headers=headers, json={"password": PASSWORD})
    new_codes = fresh.json()["data"]["recovery_codes"]
    assert len(new_codes) == 8 and not set(new_codes) & set(codes)
    old = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge), json={"recovery_code": codes[2]}
    )
    assert old.status_code == 422
    ok = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge), json={"recovery_code": new_codes[0]}
    )
    assert ok.status_code == 200


def test_disable_needs_the_password_and_events_are_recorded(
    api: httpx.Client, stack: Stack
) -> None:
    email = unique_email()
    owner = register(api, email=email)
    headers = bearer(owner["token"])
    enable_two_factor(api, owner["token"])
    refused = api.request("DELETE", "/v1/me/2fa", headers=headers, json={"password": "wrong-one-1"})
    assert refused.status_code == 422
    assert (
        api.request(
            "DELETE", "/v1/me/2fa", headers=headers, json={"password": PASSWORD}
        ).status_code
        == 204
    )
    assert login(api, email)["two_factor"] is False
    subjects = [
        r["subject"]
        for r in sql(
            stack,
            "SELECT subject FROM identity.outbox WHERE tenant_id = $1 ORDER BY seq",
            owner["tenant"]["id"],
        )
    ]
    assert subjects.count("identity.two_factor.changed") == 3  # setup_started, enabled, disabled


def test_setup_requires_the_current_password(api: httpx.Client) -> None:
    owner = register(api)
    refused = api.post(
        "/v1/me/2fa/setup", headers=bearer(owner["token"]), json={"password": "guess-guess"}
    )
    assert refused.status_code == 422 and error_fields(refused) == {"password"}
    missing = api.post(
        "/v1/me/2fa/confirm", headers=bearer(owner["token"]), json={"code": "123456"}
    )
    assert missing.status_code == 409 and errors_of(missing)[0]["code"] == "TWO_FACTOR_NOT_SET_UP"


def test_requiring_two_factor_needs_the_owner_to_have_it(api: httpx.Client) -> None:
    owner = register(api)
    headers = bearer(owner["token"])
    assert api.get("/v1/security-config", headers=headers).json()["data"] == {
        "require_two_factor": False,
        "agent_restricted_to_own_conversations": False,
    }
    refused = api.put("/v1/security-config", headers=headers, json={"require_two_factor": True})
    assert refused.status_code == 409
    assert errors_of(refused)[0] == {
        "code": "OWNER_TWO_FACTOR_REQUIRED",
        "message": "Turn on your own two-factor authentication first.",
        "field": "require_two_factor",
    }
    restricted = api.put(
        "/v1/security-config", headers=headers, json={"agent_restricted_to_own_conversations": True}
    )
    assert restricted.json()["data"] == {
        "require_two_factor": False,
        "agent_restricted_to_own_conversations": True,
    }
    enable_two_factor(api, owner["token"])
    on = api.put("/v1/security-config", headers=headers, json={"require_two_factor": True})
    assert on.status_code == 200 and on.json()["data"]["require_two_factor"] is True
    # Nobody can now switch their own 2FA off while the workspace requires it.
    off = api.request("DELETE", "/v1/me/2fa", headers=headers, json={"password": PASSWORD})
    assert off.status_code == 409


def race(gateway_url: str, tokens: list[str], body: dict[str, str]) -> list[int]:
    """Every challenge token posts the same body at once; the status of each answer."""

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.post("/v1/auth/2fa-challenge", headers=bearer(t), json=body)
                    for t in tokens
                )
            )
        return [a.status_code for a in answers]

    return asyncio.run(run())


def test_one_totp_code_passes_one_of_parallel_challenges(
    api: httpx.Client, gateway_url: str
) -> None:
    email = unique_email()
    owner = register(api, email=email)
    totp, _ = enable_two_factor(api, owner["token"])
    challenges = [login(api, email)["token"] for _ in range(4)]
    statuses = race(gateway_url, challenges, {"code": next_code(totp)})
    assert sorted(statuses) == [200, 422, 422, 422], statuses


def test_one_recovery_code_passes_one_of_parallel_challenges(
    api: httpx.Client, gateway_url: str
) -> None:
    email = unique_email()
    owner = register(api, email=email)
    _, codes = enable_two_factor(api, owner["token"])
    challenges = [login(api, email)["token"] for _ in range(4)]
    statuses = race(gateway_url, challenges, {"recovery_code": codes[0]})
    assert sorted(statuses) == [200, 422, 422, 422], statuses


def test_recovery_codes_are_keyed_digests_and_legacy_ones_still_work_once(
    api: httpx.Client, stack: Stack
) -> None:
    email = unique_email()
    owner = register(api, email=email)
    _, codes = enable_two_factor(api, owner["token"])
    user_id = owner["user"]["id"]
    stored = {
        bytes(r["code_hash"])
        for r in sql(
            stack, "SELECT code_hash FROM identity.recovery_codes WHERE user_id = $1", user_id
        )
    }
    assert len(stored) == 8
    # Not bare SHA-256 (a leaked table would be brute-forced offline): HMAC under a server key.
    assert not {hashlib.sha256(c.encode()).digest() for c in codes} & stored

    # A code from before migration 0010 (bare SHA-256, marked legacy) still signs in, once.
    legacy = "abcde-fghjk"
    sql(
        stack,
        "INSERT INTO identity.recovery_codes (user_id, code_hash, legacy_sha256, created_at)"
        " VALUES ($1, $2, true, now())",
        user_id,
        hashlib.sha256(legacy.encode()).digest(),
    )
    first = api.post(
        "/v1/auth/2fa-challenge",
        headers=bearer(login(api, email)["token"]),
        json={"recovery_code": "ABCDE FGHJK"},
    )
    assert first.status_code == 200, first.text
    again = api.post(
        "/v1/auth/2fa-challenge",
        headers=bearer(login(api, email)["token"]),
        json={"recovery_code": legacy},
    )
    assert again.status_code == 422
    # A keyed digest is never accepted as if it were a legacy one, nor the reverse.
    sql(
        stack,
        "INSERT INTO identity.recovery_codes (user_id, code_hash, legacy_sha256, created_at)"
        " VALUES ($1, $2, false, now())",
        user_id,
        hashlib.sha256(b"mnpqr-stuvw").digest(),
    )
    unmarked = api.post(
        "/v1/auth/2fa-challenge",
        headers=bearer(login(api, email)["token"]),
        json={"recovery_code": "mnpqr-stuvw"},
    )
    assert unmarked.status_code == 422
