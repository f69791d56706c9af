"""The gateway's own behaviour, through HTTP against real processes: envelope on every answer,
limits, failures of the services behind it, request ids, OpenAPI, shared rate limits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.protobuf import empty_pb2

from gateway.discovery import discover_routes
from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import identity_pb2_grpc, internal_pb2, internal_pb2_grpc
from scripts.mesh import Stack
from services.kit.config import DEV_INTERNAL_SECRET
from services.kit.principal import service_principal, sign
from tests.conftest import PASSWORD, bearer, errors_of, register, sql, unique_email
from tests.waiting import PATIENCE_SECONDS


def test_unknown_routes_and_wrong_verbs_are_enveloped(api: httpx.Client) -> None:
    for path in ("/v1/nothing-here", "/v1/me/extra/deep", "/favicon.ico", "/"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert errors_of(response)[0]["code"] == "ROUTE_NOT_FOUND"

    wrong_verb = api.delete("/v1/me")
    assert wrong_verb.status_code == 405
    assert wrong_verb.headers["Allow"] == "GET, PATCH"
    assert errors_of(wrong_verb)[0]["code"] == "METHOD_NOT_ALLOWED"

    options = api.request("OPTIONS", "/v1/me")
    assert options.status_code == 405
    assert errors_of(options)[0]["code"] == "METHOD_NOT_ALLOWED"


def test_malformed_bodies_are_422_naming_the_problem(api: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    broken = api.post("/v1/auth/login", content=b'{"email": ', headers=headers)
    assert broken.status_code == 422
    assert errors_of(broken)[0] | {"message": ""} == {
        "code": "VALIDATION_FAILED",
        "message": "",
        "field": "body",
    }

    not_object = api.post("/v1/auth/login", content=b'["a", "b"]', headers=headers)
    assert not_object.status_code == 422
    assert errors_of(not_object)[0]["field"] == "body"

    bad_utf8 = api.post("/v1/auth/login", content=b'{"email": "\xff"}', headers=headers)
    assert bad_utf8.status_code == 422

    wrong_type = api.post("/v1/auth/login", json={"email": ["a"], "password": PASSWORD})
    assert wrong_type.status_code == 422
    assert errors_of(wrong_type)[0]["field"] == "email"

    number_as_bool = api.post("/v1/auth/login", json={"email": True, "password": PASSWORD})
    assert number_as_bool.status_code == 422


def test_oversize_bodies_are_413(api: httpx.Client) -> None:
    big = b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    declared = api.post("/v1/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert errors_of(declared)[0]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the stream is counted as it arrives
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    streamed = api.post(
        "/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_multipart_forms_are_transcoded_where_a_file_is_declared(api: httpx.Client) -> None:
    email = unique_email()
    owner = bearer(register(api, email=email)["token"])
    # Multipart only where the body declares a file (the logo); elsewhere it is a 415.
    multipart = api.post(
        "/v1/auth/login",
        files={"email": (None, email), "password": (None, PASSWORD)},
    )
    assert multipart.status_code == 415, multipart.text
    assert errors_of(multipart)[0]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    # Bodies are JSON or multipart; a urlencoded form is not JSON and says so.
    urlencoded = api.post("/v1/auth/login", data={"email": email, "password": PASSWORD})
    assert urlencoded.status_code == 422
    assert errors_of(urlencoded)[0]["field"] == "body"

    file_into_text = api.post(
        "/v1/workspace-config/logo",
        files={
            "logo": ("logo.png", b"\x89PNG", "image/png"),
            "logo_filename": ("name.txt", b"x.png", "text/plain"),
        },
        headers=owner,
    )
    assert file_into_text.status_code == 422
    assert errors_of(file_into_text)[0]["field"] == "logo_filename"


def test_request_id_is_set_echoed_and_logged(api: httpx.Client, stack: Stack) -> None:
    generated = api.get("/v1/nothing")
    assert len(generated.headers["X-Request-Id"]) >= 16

    token = register(api)["token"]
    request_id = f"test-{unique_email('rid')}"
    response = api.get("/v1/me", headers={**bearer(token), "X-Request-Id": request_id})
    assert response.headers["X-Request-Id"] == request_id
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        gateway_log = stack.processes["gateway"].log_path.read_text()
        identity_log = stack.processes["identity"].log_path.read_text()
        if request_id in gateway_log and request_id in identity_log:
            break
        time.sleep(0.1)
    assert request_id in gateway_log
    assert request_id in identity_log


def test_openapi_is_generated_from_the_descriptors(api: httpx.Client) -> None:
    response = api.get("/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"] == "3.1.0"
    routes = discover_routes()
    documented = {(verb.upper(), path) for path, ops in spec["paths"].items() for verb in ops}
    assert documented == {(r.verb, r.template) for r in routes}
    register_op = spec["paths"]["/v1/auth/register"]["post"]
    assert register_op["security"] == []
    assert "201" in register_op["responses"]
    body = register_op["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False
    assert {"email", "password", "password_confirmation", "timezone"} <= set(body["properties"])
    assert "security" not in spec["paths"]["/v1/me"]["get"]  # the document default: bearer
    assert spec["paths"]["/v1/auth/logout"]["post"]["responses"]["204"]
    schemas = spec["components"]["schemas"]
    for ref in _refs(spec):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    user = schemas["plixa.identity.v1.User"]
    assert user["properties"]["id"] == {"type": "integer", "format": "int64"}


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_health_and_readiness(api: httpx.Client) -> None:
    assert api.get("/healthz").json()["data"] == {"status": "alive"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["data"]["checks"]
    assert checks["identity"] == "serving"
    assert checks["nats"] == "serving"


GET_USERS = "/plixa.identity.v1.IdentityInternal/GetUsers"


def test_principals_are_only_trusted_with_a_valid_signature(stack: Stack) -> None:
    forged = Principal(kind=Principal.KIND_USER, user_id=1, tenant_id=1, role="owner")
    secret = stack.env().get("PLIXA_INTERNAL_SECRET", DEV_INTERNAL_SECRET).encode()
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['identity']}") as channel:
        stub = identity_pb2_grpc.IdentityStub(channel)
        for metadata in (
            sign(forged, b"not-the-secret", "/plixa.identity.v1.Identity/GetMe", ""),
            (),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetMe(empty_pb2.Empty(), metadata=metadata, timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

        # Internal RPCs answer only a signed service principal: not a member, not anonymous.
        internal = internal_pb2_grpc.IdentityInternalStub(channel)
        request = internal_pb2.GetUsersRequest(tenant_id=1, ids=[1])
        for metadata in (sign(forged, secret, GET_USERS, ""), ()):
            with pytest.raises(grpc.RpcError) as refused:
                internal.GetUsers(request, metadata=metadata, timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answer = internal.GetUsers(
            request, metadata=sign(service_principal("inbox"), secret, GET_USERS, ""), timeout=5
        )
        assert isinstance(answer, internal_pb2.GetUsersResponse)


@pytest.fixture(scope="module")
def limited_gateways(stack: Stack) -> Iterator[tuple[str, str]]:
    """Two gateway replicas with a tiny default limit, sharing state through NATS KV."""
    env = {"PLIXA_RATE_LIMITS": "default=6/3600,auth=10000/60"}
    first = stack.start_gateway("gateway-limited-1", env=env)
    second = stack.start_gateway("gateway-limited-2", env=env)
    yield first, second
    stack.stop_process("gateway-limited-1")
    stack.stop_process("gateway-limited-2")


def test_rate_limit_holds_across_two_gateways(
    api: httpx.Client, limited_gateways: tuple[str, str]
) -> None:
    tenant_a = register(api)["token"]
    tenant_b = register(api)["token"]
    first, second = limited_gateways
    remaining = []
    for i in range(6):
        url = (first, second)[i % 2]
        response = httpx.get(f"{url}/v1/me", headers=bearer(tenant_a))
        assert response.status_code == 200, response.text
        assert response.headers["X-RateLimit-Limit"] == "6"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [5, 4, 3, 2, 1, 0]

    for url in (first, second):
        limited = httpx.get(f"{url}/v1/me", headers=bearer(tenant_a))
        assert limited.status_code == 429
        assert errors_of(limited)[0]["code"] == "RATE_LIMITED"
        assert 0 < int(limited.headers["Retry-After"]) <= 3600
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert int(limited.headers["X-RateLimit-Reset"]) == int(limited.headers["Retry-After"])

    # Another tenant has its own budget.
    assert httpx.get(f"{second}/v1/me", headers=bearer(tenant_b)).status_code == 200


def test_revocation_reaches_another_gateways_cache(api: httpx.Client, stack: Stack) -> None:
    # A replica with the same limits as the first (replicas sharing a budget share its config).
    other = stack.start_gateway("gateway-revocation")
    try:
        email = unique_email()
        register(api, email=email)
        login = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        token = login.json()["data"]["token"]
        assert httpx.get(f"{other}/v1/me", headers=bearer(token)).status_code == 200  # cached
        assert api.post("/v1/auth/logout", headers=bearer(token)).status_code == 204
        started = time.monotonic()
        status = 200
        while status == 200 and time.monotonic() - started < 2:
            status = httpx.get(f"{other}/v1/me", headers=bearer(token)).status_code
        assert status == 401  # the revocation event cleared the other replica's cache
    finally:
        stack.stop_process("gateway-revocation")


def test_a_stopped_service_is_503_and_a_slow_one_504(api: httpx.Client, stack: Stack) -> None:
    email = unique_email()
    token = register(api, email=email)["token"]
    slow = stack.start_gateway("gateway-impatient", env={"PLIXA_GATEWAY_TIMEOUT_MS": "3"})
    try:
        timed_out = httpx.post(f"{slow}/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert timed_out.status_code == 504
        assert errors_of(timed_out)[0]["code"] == "GATEWAY_TIMEOUT"
    finally:
        stack.stop_process("gateway-impatient")

    stack.stop_process("identity")
    try:
        down = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert down.status_code == 503
        assert errors_of(down)[0]["code"] == "SERVICE_UNAVAILABLE"
        assert int(down.headers["Retry-After"]) > 0
        fresh_token = api.get("/v1/me", headers=bearer(token + "x"))
        assert fresh_token.status_code == 503
        assert api.get("/readyz").status_code == 503
    finally:
        stack.start_service("identity")
    # The gateway reconnects on its own (its reconnect backoff is capped at 2 s).
    deadline = time.monotonic() + PATIENCE_SECONDS
    status = 503
    while status == 503 and time.monotonic() < deadline:
        status = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).status_code
    assert status == 200


def test_lost_database_connections_are_retryable_not_errors(
    api: httpx.Client, stack: Stack
) -> None:
    token = register(api)["token"]
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200
    # As after a database restart: every connection of identity's pool is cut.
    sql(
        stack,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE usename = 'plixa_identity' AND datname = current_database()",
    )
    statuses = [api.get("/v1/me", headers=bearer(token)).status_code for _ in range(3)]
    assert set(statuses) <= {200, 503}, statuses  # a lost connection is "retry", never a 500
    assert statuses[-1] == 200, statuses
