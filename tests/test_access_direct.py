"""Every RPC of every service, called directly over gRPC (no gateway), refuses the callers its
declared rule refuses, with the same error code the gateway would answer.

The calls are derived from the descriptors: a new RPC is walked without touching this test. The
request is empty: a refused call never reaches its handler."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
from google.protobuf.descriptor import MethodDescriptor

from gateway.discovery import load_contract_modules
from plixa.common.v1 import errors_pb2, options_pb2
from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import identity_pb2
from scripts.mesh import Stack
from services.kit.access import method_access
from services.kit.config import DEV_INTERNAL_SECRET, SERVICE_PORTS
from services.kit.errors import ERROR_METADATA_KEY
from services.kit.principal import PRINCIPAL_METADATA_KEY, SIGNATURE_METADATA_KEY, sign
from tests.conftest import register
from tests.principals import owner_principal

Metadata = list[tuple[str, str | bytes]]
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


@dataclass(frozen=True)
class Rpc:
    service: str  # the process that answers it
    path: str  # /pkg.Service/Method
    descriptor: MethodDescriptor


def every_rpc() -> Iterator[Rpc]:
    """Each RPC of a service process's own package (plixa.<service>.v1)."""
    for file in load_contract_modules():
        parts = file.package.split(".")
        if len(parts) != 3 or parts[1] not in SERVICE_PORTS:
            continue
        for service in file.services_by_name.values():
            for method in service.methods:
                yield Rpc(parts[1], f"/{service.full_name}/{method.name}", method)


RPCS = list(every_rpc())


def member(**changes: object) -> Principal:
    return owner_principal(**changes)


STAFF = Principal(kind=Principal.KIND_STAFF, staff_id=1, two_factor_enabled=True)
SERVICE = Principal(kind=Principal.KIND_SERVICE, service="inbox")


def refused_callers(rpc: Rpc, secret: bytes) -> list[tuple[str, Metadata, grpc.StatusCode, str]]:
    """(who, metadata, expected status, expected code) for callers this RPC must refuse."""
    access = method_access(rpc.path)
    assert access.declared, f"{rpc.path} declares no access"

    def signed(principal: Principal) -> Metadata:
        return sign(principal, secret, rpc.path, "")  # bound to this RPC; no x-request-id

    forged = sign(member(), b"not-the-secret", rpc.path, "")
    unsigned: Metadata = [(PRINCIPAL_METADATA_KEY, dict(signed(member()))[PRINCIPAL_METADATA_KEY])]
    cases: list[tuple[str, Metadata, grpc.StatusCode, str]] = [
        ("badly signed", forged, UNAUTHENTICATED, "INVALID_PRINCIPAL"),
        ("unsigned", unsigned, UNAUTHENTICATED, "INVALID_PRINCIPAL"),
    ]
    if access.internal:
        for who, principal in (("member", member()), ("staff", STAFF)):
            cases.append((who, signed(principal), UNAUTHENTICATED, "SERVICE_ONLY"))
        cases.append(("anonymous", [], UNAUTHENTICATED, "SERVICE_ONLY"))
        return cases
    rule = access.rule
    assert rule is not None
    if rule.access == options_pb2.ACCESS_PUBLIC:
        return cases
    cases.append(("anonymous", [], UNAUTHENTICATED, "UNAUTHENTICATED"))
    if rule.access == options_pb2.ACCESS_STAFF:
        cases.append(("member on a staff route", signed(member()), DENIED, "FORBIDDEN"))
        cases.append(("service on a staff route", signed(SERVICE), DENIED, "FORBIDDEN"))
        pending = signed(Principal(kind=Principal.KIND_STAFF, staff_id=1, two_factor_pending=True))
        if rule.two_factor_challenge:
            cases.append(("no staff challenge owed", signed(STAFF), DENIED, "FORBIDDEN"))
            return cases
        owed = (
            "staff second factor owed",
            pending,
            UNAUTHENTICATED,
            "TWO_FACTOR_CHALLENGE_REQUIRED",
        )
        cases.append(owed)
        if not rule.allowed_without_two_factor:
            enrolling = signed(Principal(kind=Principal.KIND_STAFF, staff_id=1))
            cases.append(("staff not enrolled", enrolling, DENIED, "TWO_FACTOR_REQUIRED"))
        return cases
    cases.append(("staff on a member route", signed(STAFF), DENIED, "FORBIDDEN"))
    cases.append(("service on a member route", signed(SERVICE), DENIED, "FORBIDDEN"))
    if rule.two_factor_challenge:
        cases.append(("no challenge owed", signed(member()), DENIED, "FORBIDDEN"))
        return cases
    cases.append(
        (
            "second factor owed",
            signed(member(two_factor_pending=True)),
            UNAUTHENTICATED,
            "TWO_FACTOR_CHALLENGE_REQUIRED",
        )
    )
    if not rule.allowed_when_suspended:
        suspended = signed(member(tenant_status="suspended"))
        cases.append(("suspended workspace", suspended, DENIED, "TENANT_SUSPENDED"))
    if not rule.allowed_without_two_factor:
        unenrolled = signed(member(two_factor_required=True))
        cases.append(("2FA required, not set up", unenrolled, DENIED, "TWO_FACTOR_REQUIRED"))
    if rule.owner_only:
        cases.append(("agent on an owner route", signed(member(role="agent")), DENIED, "FORBIDDEN"))
    api_token = ["read", "write"]  # an API token's abilities: never "*", a panel session's
    downgraded = signed(member(abilities=api_token, features=[]))
    cases.append(("API token, no api_access", downgraded, DENIED, "PLAN_FEATURE_REQUIRED"))
    if rule.session_only:
        token = signed(member(abilities=api_token))
        cases.append(("API token on a session route", token, DENIED, "PANEL_SESSION_REQUIRED"))
    else:
        ability = rule.ability or ("read" if access.verb == "GET" else "write")
        other = "write" if ability == "read" else "read"
        lacking = signed(member(abilities=[other]))
        cases.append((f"token without '{ability}'", lacking, DENIED, "TOKEN_ABILITY_REQUIRED"))
    if rule.feature:
        code = rule.feature_error or "PLAN_FEATURE_REQUIRED"
        cases.append((f"plan without {rule.feature}", signed(member(features=[])), DENIED, code))
    return cases


@pytest.fixture(scope="module")
def secret(stack: Stack) -> bytes:
    return stack.env().get("PLIXA_INTERNAL_SECRET", DEV_INTERNAL_SECRET).encode()


async def call(
    address: str, path: str, metadata: Metadata, request: bytes = b""
) -> tuple[grpc.StatusCode, errors_pb2.ErrorDetail | None, bytes]:
    async with grpc.aio.insecure_channel(address) as channel:
        rpc = channel.unary_unary(
            path, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        try:
            reply = await rpc(request, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as error:
            detail = None
            for key, value in error.trailing_metadata() or ():
                if key == ERROR_METADATA_KEY and isinstance(value, bytes):
                    detail = errors_pb2.ErrorDetail.FromString(value)
            return error.code(), detail, b""
        return grpc.StatusCode.OK, None, reply


def test_the_walk_covers_every_service_rpc() -> None:
    paths = {rpc.path for rpc in RPCS}
    assert "/plixa.identity.v1.Identity/GetMe" in paths
    assert "/plixa.identity.v1.IdentityInternal/AuthenticateToken" in paths
    assert len(paths) >= 35


@pytest.mark.parametrize("rpc", RPCS, ids=lambda rpc: rpc.path)
def test_direct_calls_refuse_whom_the_rule_refuses(stack: Stack, secret: bytes, rpc: Rpc) -> None:
    address = f"127.0.0.1:{stack.ports[rpc.service]}"
    cases = refused_callers(rpc, secret)

    async def walk() -> list[str]:
        failures = []
        for who, metadata, status, code in cases:
            got, detail, _ = await call(address, rpc.path, metadata)
            got_code = detail.code if detail else None
            if (got, got_code) != (status, code):
                failures.append(f"{who}: expected {status.name} {code}, got {got.name} {got_code}")
        return failures

    assert asyncio.run(walk()) == []


def test_a_member_called_directly_is_served(api: httpx.Client, stack: Stack, secret: bytes) -> None:
    """The control: the same direct call with an admitted principal gets the real answer."""
    owner = register(api)
    principal = member(
        user_id=int(owner["user"]["id"]), tenant_id=int(owner["tenant"]["id"]), features=[]
    )
    status, _, reply = asyncio.run(
        call(
            f"127.0.0.1:{stack.ports['identity']}",
            "/plixa.identity.v1.Identity/GetMe",
            sign(principal, secret, "/plixa.identity.v1.Identity/GetMe", ""),
        )
    )
    assert status == grpc.StatusCode.OK
    assert identity_pb2.Me.FromString(reply).user.email == owner["user"]["email"]


def test_a_signature_without_its_principal_is_refused(stack: Stack) -> None:
    metadata: Metadata = [(SIGNATURE_METADATA_KEY, "00" * 32)]
    status, detail, _ = asyncio.run(
        call(f"127.0.0.1:{stack.ports['identity']}", "/plixa.identity.v1.Identity/GetMe", metadata)
    )
    assert status == UNAUTHENTICATED and detail is not None
    assert detail.code == "INVALID_PRINCIPAL"
