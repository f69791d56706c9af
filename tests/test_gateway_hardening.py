"""The gateway knows and counts the caller before it reads a body, takes multipart only where a
file is declared, bounds bad bearer tokens per client address, and answers hostile bodies
(deep JSON, malformed multipart) with 422. Over HTTP (and a raw socket where the timing of the
body matters) against the real stack; what identity was asked is read from its rpc log lines."""

from __future__ import annotations

import json
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from scripts.mesh import Stack
from tests.conftest import PASSWORD, bearer, register

AUTHENTICATE = "/plixa.identity.v1.IdentityInternal/AuthenticateToken"
LOGIN = "/plixa.identity.v1.Identity/Login"
FAILURES_ALLOWED = 5


def identity_calls(stack: Stack, request_id_prefix: str, method: str) -> int:
    """How many rpc log lines identity wrote for `method` under request ids with this prefix."""
    count = 0
    for line in stack.processes["identity"].log_path.read_text(errors="replace").splitlines():
        if request_id_prefix not in line or method not in line:
            continue
        entry = json.loads(line)
        if (
            entry.get("message") == "rpc"
            and entry.get("method") == method
            and str(entry.get("request_id", "")).startswith(request_id_prefix)
        ):
            count += 1
    return count


def settled_identity_calls(stack: Stack, prefix: str, method: str) -> int:
    """The count once identity's log has caught up (lines land just after the answers)."""
    seen, deadline = -1, time.monotonic() + 1.5
    while time.monotonic() < deadline:
        now = identity_calls(stack, prefix, method)
        if now == seen:
            break
        seen = now
        time.sleep(0.3)
    return identity_calls(stack, prefix, method)


@pytest.fixture(scope="module")
def strict_gateway(stack: Stack) -> Iterator[str]:
    """Its own gateway with a tight bad-token limit (all tests share 127.0.0.1)."""
    url = stack.start_gateway(
        "gateway-hardening",
        env={
            "PLIXA_RATE_LIMITS": (
                f"auth=10000/60,default=100000/60,auth_failure={FAILURES_ALLOWED}/60"
            )
        },
    )
    yield url
    stack.stop_process("gateway-hardening")


def raw_request(url: str, head: str, wait: float = 10.0) -> bytes:
    """Sends only the request head (its body never follows) and reads what comes back. A server
    that waited for the body would answer nothing before `wait` runs out, so any answer at all
    proves the refusal came first."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=wait) as sock:
        sock.sendall(head.encode())
        received = b""
        try:
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pass
    return received


# ── multipart only where a file is declared; nothing read before the caller is known ────────


def test_a_large_multipart_body_to_login_is_refused_unread(stack: Stack, api: httpx.Client) -> None:
    prefix = f"mp-{uuid.uuid4().hex[:8]}"
    boundary = "plixa-boundary"
    filler = b"x" * (2 * 1024 * 1024)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.com\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n'.encode()
        + filler
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = api.post(
        "/v1/auth/login",
        content=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-Request-Id": prefix,
        },
    )
    assert response.status_code in (413, 415), response.text
    assert response.json()["errors"][0]["code"] in ("PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE")
    assert settled_identity_calls(stack, prefix, LOGIN) == 0


def test_multipart_is_refused_on_a_json_route_and_taken_where_a_file_is_declared(
    api: httpx.Client,
) -> None:
    owner = register(api)
    refused = api.put(
        "/v1/workspace-config",
        files={"name": (None, "Renamed")},
        headers=bearer(owner["token"]),
    )
    assert refused.status_code == 415, refused.text
    assert refused.json()["errors"][0]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    # The logo route declares a file (logo + logo_filename/logo_content_type): multipart there
    # is transcoded as before (a non-image is refused by content, not by media type).
    taken = api.post(
        "/v1/workspace-config/logo",
        files={"logo": ("logo.png", b"not an image", "image/png")},
        headers=bearer(owner["token"]),
    )
    assert taken.status_code == 422, taken.text
    assert taken.json()["errors"][0]["field"] == "logo"


def test_public_sign_in_keeps_the_json_body_limit_under_a_multipart_content_type(
    gateway_url: str,
) -> None:
    # 2 MiB declared, more than the 1 MiB JSON limit, less than the 16 MiB upload limit.
    head = (
        "POST /v1/auth/register HTTP/1.1\r\nHost: plixa\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {2 * 1024 * 1024}\r\n\r\n"
    )
    answer = raw_request(gateway_url, head)
    assert answer.split(b"\r\n", 1)[0] in (
        b"HTTP/1.1 413 Payload Too Large",
        b"HTTP/1.1 415 Unsupported Media Type",
    ), answer[:200]


@pytest.mark.parametrize("authorization", ["", "Authorization: Bearer 1|not-the-secret\r\n"])
def test_an_unauthenticated_caller_gets_401_before_sending_its_body(
    gateway_url: str, authorization: str
) -> None:
    head = (
        "PUT /v1/workspace-config HTTP/1.1\r\nHost: plixa\r\n"
        "Content-Type: application/json\r\n"
        f"{authorization}Content-Length: {10 * 1024 * 1024}\r\n\r\n"
    )
    answer = raw_request(gateway_url, head)  # the 10 MB body is never sent
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


# ── bad bearer tokens: counted per address, refused identities cached briefly ─────────────


def test_bad_token_bursts_get_429_per_address_and_identity_is_asked_a_bounded_number_of_times(
    stack: Stack, strict_gateway: str
) -> None:
    prefix = f"bad-{uuid.uuid4().hex[:8]}"
    statuses = []
    with httpx.Client(base_url=strict_gateway, timeout=15) as client:
        for n in range(25):
            token = f"{10**12 + n}|{secrets.token_hex(20)}"  # a new unknown token each time
            response = client.get(
                "/v1/workspace-config",
                headers={**bearer(token), "X-Request-Id": f"{prefix}-{n}"},
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                body = response.json()
                assert body["errors"][0]["code"] == "RATE_LIMITED"
                assert int(response.headers["Retry-After"]) >= 1
    refused = statuses.count(401)
    assert refused <= FAILURES_ALLOWED, statuses
    assert statuses == [401] * refused + [429] * (25 - refused), statuses
    # Each 401 asked identity once, plus the one that crossed the limit; none after that.
    assert settled_identity_calls(stack, prefix, AUTHENTICATE) <= FAILURES_ALLOWED + 1


def test_a_refused_token_is_not_asked_about_again_but_the_real_one_still_works(
    stack: Stack, api: httpx.Client
) -> None:
    owner = register(api)
    token_id, _, secret = owner["token"].partition("|")
    forged = f"{token_id}|{'0' * len(secret)}"
    prefix = f"neg-{uuid.uuid4().hex[:8]}"
    for n in range(8):
        response = api.get(
            "/v1/workspace-config", headers={**bearer(forged), "X-Request-Id": f"{prefix}-{n}"}
        )
        assert response.status_code == 401, response.text
    assert settled_identity_calls(stack, prefix, AUTHENTICATE) == 1
    # The negative entry is for the forged string only: the real token (same id) still works.
    good = api.get("/v1/workspace-config", headers=bearer(owner["token"]))
    assert good.status_code == 200, good.text


# ── hostile bodies: 422, never 500 ──────────────────────────────────────────────────────────


@pytest.mark.parametrize("depth", [33, 200, 100_000])
def test_json_nested_deeper_than_the_bound_is_refused(api: httpx.Client, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    response = api.post(
        "/v1/auth/login",
        content=f'{{"email": "a@example.com", "password": {nested}}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text[:300]
    error = response.json()["errors"][0]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["field"] == "body"
    assert "nest" in error["message"]


def test_json_within_the_bound_is_read_as_usual(api: httpx.Client) -> None:
    nested = "[" * 31 + "]" * 31  # 32 levels with the enclosing object
    response = api.post(
        "/v1/auth/login",
        content=f'{{"email": "a@example.com", "password": {nested}}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "password"  # a type error, not the depth


MALFORMED_MULTIPART = {
    "boundary that never appears": (
        "multipart/form-data; boundary=expected",
        b'--other\r\nContent-Disposition: form-data; name="logo"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n--other--\r\n",
    ),
    "truncated part": (
        "multipart/form-data; boundary=cut",
        b'--cut\r\nContent-Disposition: form-data; name="logo"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n",
    ),
    "part without Content-Disposition": (
        "multipart/form-data; boundary=hdr",
        b"--hdr\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--hdr--\r\n",
    ),
    "garbled part headers": (
        "multipart/form-data; boundary=hdr",
        b"--hdr\r\nthis is no header line\r\n\r\n\x89PNG\r\n--hdr--\r\n",
    ),
    "not multipart at all": ("multipart/form-data; boundary=x", b'{"logo": "AAAA"}'),
    "no boundary": ("multipart/form-data", b"--x\r\n\r\n--x--\r\n"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_MULTIPART))
def test_malformed_multipart_is_refused_with_422(api: httpx.Client, case: str) -> None:
    owner = register(api)
    content_type, body = MALFORMED_MULTIPART[case]
    response = api.post(
        "/v1/workspace-config/logo",
        content=body,
        headers={**bearer(owner["token"]), "Content-Type": content_type},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["code"] == "VALIDATION_FAILED"


def test_sign_in_still_works(api: httpx.Client) -> None:
    owner = register(api)
    response = api.post(
        "/v1/auth/login", json={"email": owner["user"]["email"], "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
