"""Staff accounts: made by the command line, signed in through the API, kept apart from members."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from scripts.mesh import ROOT, Stack
from tests.conftest import bearer, errors_of, register, unique_email

STAFF_PASSWORD = "staff-secret-pw"


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


@pytest.fixture(scope="module")
def staff_email(stack: Stack) -> str:
    email = unique_email("staff")
    result = create_staff(stack, email)
    assert result.returncode == 0, result.stderr
    return email


def test_cli_refuses_a_weak_password_and_a_duplicate(stack: Stack, staff_email: str) -> None:
    weak = create_staff(stack, unique_email("staff"), "short")
    assert weak.returncode == 2 and "password" in weak.stderr
    duplicate = create_staff(stack, staff_email.upper())
    assert duplicate.returncode == 2 and "email" in duplicate.stderr


def test_staff_login_me_and_logout(api: httpx.Client, staff_email: str) -> None:
    login = api.post(
        "/v1/admin/auth/login", json={"email": staff_email, "password": STAFF_PASSWORD}
    )
    assert login.status_code == 200
    data = login.json()["data"]
    assert data["staff"]["email"] == staff_email and data["staff"]["name"] == "Ana Staff"
    token = data["token"]

    me = api.get("/v1/admin/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["data"] == data["staff"]

    # A staff token is not a workspace member.
    member_route = api.get("/v1/me", headers=bearer(token))
    assert member_route.status_code == 403 and errors_of(member_route)[0]["code"] == "FORBIDDEN"

    assert api.post("/v1/admin/auth/logout", headers=bearer(token)).status_code == 204
    assert api.get("/v1/admin/me", headers=bearer(token)).status_code == 401


def test_staff_login_refuses_wrong_password_and_member_credentials(
    api: httpx.Client, staff_email: str
) -> None:
    wrong = api.post(
        "/v1/admin/auth/login", json={"email": staff_email, "password": "wrong-pass-1"}
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
    admin_writes = [
        (path, verb)
        for path, operations in spec["paths"].items()
        for verb in operations
        if path.startswith("/v1/admin") and verb != "get"
    ]
    assert sorted(admin_writes) == [
        ("/v1/admin/auth/login", "post"),
        ("/v1/admin/auth/logout", "post"),
    ]
