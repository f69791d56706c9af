"""Principal signing: what services trust and what they refuse."""

from __future__ import annotations

import socket
import time

import grpc
import pytest

from plixa.common.v1 import onboarding_pb2, onboarding_pb2_grpc
from plixa.common.v1.principal_pb2 import Principal
from services.kit.errors import DomainError
from services.kit.interceptors import ServiceInterceptor
from services.kit.principal import (
    ANONYMOUS,
    PRINCIPAL_METADATA_KEY,
    PrincipalVerifier,
    service_principal,
    sign,
    verify,
)
from services.kit.server import register_servicer

SECRET = b"unit-test-secret"
GET_ME = "/plixa.identity.v1.Identity/GetMe"
DELETE_ACCOUNT = "/plixa.identity.v1.Identity/RequestAccountDeletion"


def member() -> Principal:
    return Principal(
        kind=Principal.KIND_USER, user_id=7, tenant_id=3, role="agent", abilities=["*"]
    )


def test_a_signed_principal_round_trips() -> None:
    principal = verify(dict(sign(member(), SECRET, GET_ME, "r1")), SECRET, GET_ME, "r1")
    assert (principal.user_id, principal.tenant_id, principal.role) == (7, 3, "agent")


def test_no_metadata_is_anonymous() -> None:
    assert verify({}, SECRET, GET_ME, "r1") == ANONYMOUS


@pytest.mark.parametrize("secret", [b"another-secret", b""])
def test_another_key_is_refused(secret: bytes) -> None:
    with pytest.raises(DomainError) as refused:
        verify(dict(sign(member(), secret, GET_ME, "r1")), SECRET, GET_ME, "r1")
    assert refused.value.code == "INVALID_PRINCIPAL"


def test_a_tampered_principal_is_refused() -> None:
    metadata = dict(sign(member(), SECRET, GET_ME, "r1"))
    tampered = Principal.FromString(metadata[PRINCIPAL_METADATA_KEY])
    tampered.role = "owner"
    metadata[PRINCIPAL_METADATA_KEY] = tampered.SerializeToString(deterministic=True)
    with pytest.raises(DomainError):
        verify(metadata, SECRET, GET_ME, "r1")


def test_an_old_signature_is_refused() -> None:
    metadata = dict(sign(member(), SECRET, GET_ME, "r1"))
    with pytest.raises(DomainError):
        verify(metadata, SECRET, GET_ME, "r1", now=time.time() + 31)


def test_a_signature_is_good_for_thirty_seconds() -> None:
    metadata = dict(sign(member(), SECRET, GET_ME, "r1"))
    assert verify(metadata, SECRET, GET_ME, "r1", now=time.time() + 29).user_id == 7


@pytest.mark.parametrize(
    ("method", "request_id"),
    [(DELETE_ACCOUNT, "r1"), (GET_ME, "r2"), (GET_ME, ""), (GET_ME + "x", "r1")],
)
def test_a_signature_for_another_call_is_refused(method: str, request_id: str) -> None:
    """Captured metadata replayed on another method, or as another request, is refused."""
    metadata = dict(sign(member(), SECRET, GET_ME, "r1"))
    with pytest.raises(DomainError) as refused:
        verify(metadata, SECRET, method, request_id)
    assert refused.value.code == "INVALID_PRINCIPAL"


def test_the_verifiers_cache_does_not_carry_a_signature_to_another_method() -> None:
    verifier = PrincipalVerifier(SECRET)
    metadata = dict(sign(member(), SECRET, GET_ME, "r1"))
    assert verifier.verify(metadata, GET_ME, "r1").user_id == 7  # now cached
    with pytest.raises(DomainError):
        verifier.verify(metadata, DELETE_ACCOUNT, "r1")
    with pytest.raises(DomainError):
        verifier.verify(metadata, GET_ME, "r2")


PROGRESS = "/plixa.common.v1.OnboardingProgress/GetOnboardingProgress"


class Progress(onboarding_pb2_grpc.OnboardingProgressServicer):
    async def GetOnboardingProgress(
        self, request: onboarding_pb2.OnboardingProgressRequest, context: grpc.aio.ServicerContext
    ) -> onboarding_pb2.OnboardingProgressReply:
        return onboarding_pb2.OnboardingProgressReply(steps={"answered": True})


async def test_a_service_refuses_a_signature_made_for_another_method() -> None:
    """Through a real server running the kit's interceptor: the metadata signed for one internal
    RPC, replayed on another, is refused UNAUTHENTICATED INVALID_PRINCIPAL."""
    server = grpc.aio.server(interceptors=[ServiceInterceptor(SECRET)])
    register_servicer(server, Progress())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    caller = service_principal("identity", 1)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            progress = channel.unary_unary(
                PROGRESS,
                request_serializer=onboarding_pb2.OnboardingProgressRequest.SerializeToString,
                response_deserializer=onboarding_pb2.OnboardingProgressReply.FromString,
            )
            request = onboarding_pb2.OnboardingProgressRequest(tenant_id=1)
            good = [("x-request-id", "r1"), *sign(caller, SECRET, PROGRESS, "r1")]
            assert dict((await progress(request, metadata=good)).steps) == {"answered": True}
            for metadata in (
                [("x-request-id", "r1"), *sign(caller, SECRET, GET_ME, "r1")],
                [("x-request-id", "r2"), *good[1:]],  # the same signature as another request
            ):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await progress(request, metadata=metadata)
                assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
                assert "could not be verified" in (refused.value.details() or "")
    finally:
        await server.stop(0)
