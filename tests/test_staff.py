"""Staff accounts: made by the command line, signed in through the API with a mandatory second
factor (enrolment at the first sign-in, the members' challenge afterwards), kept apart from
members."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pyotp
import pytest

from scripts.mesh import ROOT, Stack
from tests.conftest import bearer, error_fields, errors_of, register, sql, unique_email
from tests.waiting import PATIENCE_SECONDS

STAFF_PASSWORD = "staff-secret-pw"


@dataclass
class Enrolled:
    email: str
    totp: pyotp.TOTP
    recovery_codes: list[str]
    token: str  # the session the enrolment answered


def staff_login(api: httpx.Client, email: str) -> dict[str, object]:
    login = api.post("/v1/admin/auth/login", json={"email": email, "password": STAFF_PASSWORD})
    assert login.status_code == 200, login.text
    data: dict[str, object] = login.json()["data"]
    return data


def enrol(api: httpx.Client, email: str) -> Enrolled:
    """The first sign-in of a staff account: enrolment token → set-up → confirm → session."""
    first = staff_login(api, email)
    assert first["two_factor_enrolment"] is True and first["two_factor"] is False
    token = str(first["token"])
    setup = api.post("/v1/admin/2fa/setup", headers=bearer(token))
    assert setup.status_code == 200, setup.text
    totp = pyotp.TOTP(setup.json()["data"]["secret"])
    confirm = api.post("/v1/admin/2fa/confirm", headers=bearer(token), json={"code": totp.now()})
    assert confirm.status_code == 200, confirm.text
    data = confirm.json()["data"]
    assert (
        data["session"]["two_factor"] is False and data["session"]["two_factor_enrolment"] is False
    )
    return Enrolled(email, totp, data["recovery_codes"], data["session"]["token"])


def next_code(totp: pyotp.TOTP) -> str:
    return totp.at(time.time() + totp.interval)


def staff_session(api: httpx.Client, enrolled: Enrolled) -> str:
    """A later sign-in of an enrolled account: challenge token → challenge → session. Uses a
    recovery code, so sign-ins in one time step do not collide on the spent TOTP step."""
    login = staff_login(api, enrolled.email)
    assert login["two_factor"] is True and login["two_factor_enrolment"] is False
    code = enrolled.recovery_codes.pop()
    done = api.post(
        "/v1/admin/auth/2fa-challenge",
        headers=bearer(str(login["token"])),
        json={"recovery_code": code},
    )
    assert done.status_code == 200, done.text
    return str(done.json()["data"]["token"])


def create_staff(
    stack: Stack, email: str, password: str = STAFF_PASSWORD
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "services.identity.cli",
            "create-staff",
            "--name",
            "Ana Staff",
            "--email",
            email,
        ],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=stack.env(),
        cwd=ROOT,
        check=False,
    )


def new_staff(stack: Stack) -> str:
    email = unique_email("staff")
    result = create_staff(stack, email)
    assert result.returncode == 0, result.stderr
    return email


@pytest.fixture(scope="module")
def staff_email(stack: Stack) -> str:
    return new_staff(stack)


@pytest.fixture(scope="module")
def enrolled(api_module: httpx.Client, staff_email: str) -> Enrolled:
    return enrol(api_module, staff_email)


@pytest.fixture(scope="module")
def api_module(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=15) as client:
        yield client


def test_cli_refuses_a_weak_password_and_a_duplicate(stack: Stack, staff_email: str) -> None:
    weak = create_staff(stack, unique_email("staff"), "short")
    assert weak.returncode == 2 and "password" in weak.stderr
    duplicate = create_staff(stack, staff_email.upper())
    assert duplicate.returncode == 2 and "email" in duplicate.stderr


def test_staff_login_me_and_logout(api: httpx.Client, enrolled: Enrolled) -> None:
    login = staff_login(api, enrolled.email)
    staff = login["staff"]
    assert isinstance(staff, dict)
    assert staff["email"] == enrolled.email and staff["name"] == "Ana Staff"
    token = staff_session(api, enrolled)

    me = api.get("/v1/admin/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["data"] == staff

    # A staff token is not a workspace member.
    member_route = api.get("/v1/me", headers=bearer(token))
    assert member_route.status_code == 403 and errors_of(member_route)[0]["code"] == "FORBIDDEN"

    assert api.post("/v1/admin/auth/logout", headers=bearer(token)).status_code == 204
    assert api.get("/v1/admin/me", headers=bearer(token)).status_code == 401


def test_staff_login_refuses_wrong_password_and_member_credentials(
    api: httpx.Client, enrolled: Enrolled
) -> None:
    wrong = api.post(
        "/v1/admin/auth/login", json={"email": enrolled.email, "password": "wrong-pass-1"}
    )
    assert wrong.status_code == 401 and errors_of(wrong)[0]["code"] == "INVALID_CREDENTIALS"

    member_email = unique_email()
    member = register(api, email=member_email)
    as_staff = api.post(
        "/v1/admin/auth/login", json={"email": member_email, "password": "super-secret-pw"}
    )
    assert as_staff.status_code == 401
    # And a member's token cannot reach staff routes.
    refused = api.get("/v1/admin/me", headers=bearer(member["token"]))
    assert refused.status_code == 403


def test_no_api_route_creates_staff(api: httpx.Client, gateway_url: str) -> None:
    spec = api.get("/v1/openapi.json").json()
    # Staff accounts live in identity: its only staff writes are signing in and the second factor
    # (the backoffice's /v1/admin writes act on workspaces, tickets and articles, never on staff).
    identity_admin_writes = [
        (path, verb)
        for path, operations in spec["paths"].items()
        for verb, operation in operations.items()
        if path.startswith("/v1/admin") and verb != "get" and "identity" in operation["tags"]
    ]
    staff_paths = [path for path in spec["paths"] if "/staff" in path]
    assert staff_paths == []
    assert sorted(identity_admin_writes) == [
        ("/v1/admin/2fa/confirm", "post"),
        ("/v1/admin/2fa/setup", "post"),
        ("/v1/admin/auth/2fa-challenge", "post"),
        ("/v1/admin/auth/login", "post"),
        ("/v1/admin/auth/logout", "post"),
    ]


def test_staff_without_two_factor_reach_only_the_enrolment(api: httpx.Client, stack: Stack) -> None:
    email = new_staff(stack)
    login = staff_login(api, email)
    assert login["two_factor_enrolment"] is True
    token = str(login["token"])
    # The enrolment token opens no staff route but set-up and confirmation.
    refused = api.get("/v1/admin/me", headers=bearer(token))
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "TWO_FACTOR_REQUIRED"
    challenge = api.post(
        "/v1/admin/auth/2fa-challenge", headers=bearer(token), json={"code": "123456"}
    )
    assert challenge.status_code == 403
    not_set_up = api.post("/v1/admin/2fa/confirm", headers=bearer(token), json={"code": "123456"})
    assert not_set_up.status_code == 409
    assert errors_of(not_set_up)[0]["code"] == "TWO_FACTOR_NOT_SET_UP"

    setup = api.post("/v1/admin/2fa/setup", headers=bearer(token))
    totp = pyotp.TOTP(setup.json()["data"]["secret"])
    assert api.get("/v1/admin/me", headers=bearer(token)).status_code == 403  # still enrolling
    wrong = api.post("/v1/admin/2fa/confirm", headers=bearer(token), json={"code": "000000"})
    assert wrong.status_code == 422 and error_fields(wrong) == {"code"}
    confirm = api.post("/v1/admin/2fa/confirm", headers=bearer(token), json={"code": totp.now()})
    assert confirm.status_code == 200, confirm.text
    data = confirm.json()["data"]
    assert len(data["recovery_codes"]) == 8
    session = data["session"]["token"]
    assert api.get("/v1/admin/me", headers=bearer(session)).status_code == 200
    # The enrolment token is spent, and a second enrolment is refused.
    assert api.get("/v1/admin/me", headers=bearer(token)).status_code == 401
    again = api.post("/v1/admin/2fa/setup", headers=bearer(session))
    assert again.status_code == 409
    assert errors_of(again)[0]["code"] == "TWO_FACTOR_ALREADY_ENABLED"

    # At rest: the seed is sealed and the recovery codes are keyed digests.
    [row] = sql(
        stack, "SELECT two_factor_secret FROM identity.staff WHERE lower(email) = $1", email
    )
    assert totp.secret not in row["two_factor_secret"]
    hashes = {
        bytes(r["code_hash"])
        for r in sql(
            stack,
            "SELECT code_hash FROM identity.recovery_codes WHERE staff_id ="
            " (SELECT id FROM identity.staff WHERE lower(email) = $1)",
            email,
        )
    }
    assert len(hashes) == 8
    assert not {hashlib.sha256(c.encode()).digest() for c in data["recovery_codes"]} & hashes


def test_enrolled_staff_must_pass_the_challenge(api: httpx.Client, stack: Stack) -> None:
    enrolled = enrol(api, new_staff(stack))
    login = staff_login(api, enrolled.email)
    assert login["two_factor"] is True
    challenge = str(login["token"])
    # The challenge token opens nothing but the challenge.
    refused = api.get("/v1/admin/me", headers=bearer(challenge))
    assert refused.status_code == 401
    assert errors_of(refused)[0]["code"] == "TWO_FACTOR_CHALLENGE_REQUIRED"
    assert api.post("/v1/admin/2fa/setup", headers=bearer(challenge)).status_code == 401

    # The code that confirmed the enrolment is spent; a member's challenge route refuses staff.
    member_route = api.post(
        "/v1/auth/2fa-challenge", headers=bearer(challenge), json={"code": "123456"}
    )
    assert member_route.status_code == 403
    wrong = api.post(
        "/v1/admin/auth/2fa-challenge", headers=bearer(challenge), json={"code": "000000"}
    )
    assert wrong.status_code == 422 and error_fields(wrong) == {"code"}
    done = api.post(
        "/v1/admin/auth/2fa-challenge",
        headers=bearer(challenge),
        json={"code": next_code(enrolled.totp)},
    )
    assert done.status_code == 200, done.text
    session = done.json()["data"]
    assert session["two_factor"] is False and session["staff"]["email"] == enrolled.email
    assert api.get("/v1/admin/me", headers=bearer(session["token"])).status_code == 200
    # The spent challenge token is dead, and a full session opens no challenge.
    assert api.get("/v1/admin/me", headers=bearer(challenge)).status_code == 401
    full = api.post(
        "/v1/admin/auth/2fa-challenge", headers=bearer(session["token"]), json={"code": "123456"}
    )
    assert full.status_code == 403

    # A recovery code works once.
    code = enrolled.recovery_codes[0]
    first = staff_login(api, enrolled.email)["token"]
    ok = api.post(
        "/v1/admin/auth/2fa-challenge", headers=bearer(str(first)), json={"recovery_code": code}
    )
    assert ok.status_code == 200
    second = staff_login(api, enrolled.email)["token"]
    reused = api.post(
        "/v1/admin/auth/2fa-challenge", headers=bearer(str(second)), json={"recovery_code": code}
    )
    assert reused.status_code == 422 and error_fields(reused) == {"recovery_code"}


def test_a_session_from_before_the_enrolment_opens_only_the_enrolment(
    api: httpx.Client, stack: Stack
) -> None:
    """A staff token issued before two-factor was mandatory (kind 'staff', account not enrolled:
    what migration 0010 leaves behind) is sent to the enrolment like a fresh sign-in."""
    email = new_staff(stack)
    token = str(staff_login(api, email)["token"])
    sql(
        stack,
        "UPDATE identity.tokens SET kind = 'staff', abilities = '{*}', expires_at = NULL"
        " WHERE id = $1",
        int(token.partition("|")[0]),
    )
    refused = api.get("/v1/admin/me", headers=bearer(token))
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "TWO_FACTOR_REQUIRED"
    assert api.post("/v1/admin/2fa/setup", headers=bearer(token)).status_code == 200


def test_the_command_line_resets_a_lost_second_factor(api: httpx.Client, stack: Stack) -> None:
    enrolled = enrol(api, new_staff(stack))
    assert api.get("/v1/admin/me", headers=bearer(enrolled.token)).status_code == 200
    reset = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.identity.cli",
            "reset-staff-two-factor",
            "--email",
            enrolled.email,
        ],
        capture_output=True,
        text=True,
        env=stack.env(),
        cwd=ROOT,
        check=False,
    )
    assert reset.returncode == 0, reset.stderr
    # Every session of the account ended; the next sign-in enrols again. The CLI's revocation
    # event is published by identity's relay, which finds rows written by another process when
    # it next polls (each second), and gateways drop the cached token when it arrives.
    deadline = time.monotonic() + PATIENCE_SECONDS
    while api.get("/v1/admin/me", headers=bearer(enrolled.token)).status_code != 401:
        assert time.monotonic() < deadline, "the reset did not end the staff session"
        time.sleep(0.1)
    assert staff_login(api, enrolled.email)["two_factor_enrolment"] is True
