"""The kit's client against a real grpc.aio server running the kit's interceptor: what each kind
of failure becomes for the caller."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from sqlalchemy.exc import DBAPIError

from plixa.common.v1 import onboarding_pb2, onboarding_pb2_grpc
from plixa.common.v1.principal_pb2 import Principal
from services.kit.client import ServiceClient, ServiceUnavailable, Unimplemented
from services.kit.errors import DomainError, conflict
from services.kit.interceptors import ServiceInterceptor
from services.kit.principal import current_principal, service_principal, sign
from services.kit.server import register_servicer

SECRET = b"client-test-secret"
PROGRESS = "/plixa.common.v1.OnboardingProgress/GetOnboardingProgress"
REPLY = onboarding_pb2.OnboardingProgressReply


class Progress(onboarding_pb2_grpc.OnboardingProgressServicer):
    """Answers by tenant: 1 done, 2 a domain error, 3 too slow, 4 a bug, 5 the database gone."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()  # the slow call was stopped

    async def GetOnboardingProgress(
        self, request: onboarding_pb2.OnboardingProgressRequest, context: grpc.aio.ServicerContext
    ) -> onboarding_pb2.OnboardingProgressReply:
        if request.tenant_id == 2:
            raise conflict("ALREADY_DONE", "Nothing to do.", "tenant_id")
        if request.tenant_id == 3:
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if request.tenant_id == 4:
            raise RuntimeError("a bug")
        if request.tenant_id == 5:
            raise DBAPIError("SELECT 1", None, ConnectionError("gone"), connection_invalidated=True)
        caller = current_principal().service
        return REPLY(steps={f"asked_by_{caller}": True})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PROGRESS_SERVICER = Progress()


@pytest.fixture
async def target() -> AsyncIterator[str]:
    PROGRESS_SERVICER.cancelled = asyncio.Event()
    server = grpc.aio.server(interceptors=[ServiceInterceptor(SECRET, default_deadline_seconds=1)])
    register_servicer(server, PROGRESS_SERVICER)
    address = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(address)
    await server.start()
    yield address
    await server.stop(0)


def client_for(address: str) -> ServiceClient:
    return ServiceClient(SECRET, lambda service: address, timeout=2.0)


async def ask(
    client: ServiceClient, tenant_id: int, principal: Principal | None = None
) -> onboarding_pb2.OnboardingProgressReply:
    return await client.call(
        "progress",
        PROGRESS,
        onboarding_pb2.OnboardingProgressRequest(tenant_id=tenant_id),
        REPLY,
        principal=principal or service_principal("identity", tenant_id),
        timeout=0.5,
    )


async def test_a_signed_call_is_answered_and_reuses_its_channel(target: str) -> None:
    client = client_for(target)
    assert dict((await ask(client, 1)).steps) == {"asked_by_identity": True}
    await ask(client, 1)
    assert len(client._channels) == 1
    await client.close()
    assert client._channels == {}


async def test_the_callees_domain_error_comes_back_as_the_same_error(target: str) -> None:
    client = client_for(target)
    with pytest.raises(DomainError) as refused:
        await ask(client, 2)
    error = refused.value
    assert (error.code, error.http_status, error.grpc_status) == (
        "ALREADY_DONE",
        409,
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert [f.field for f in error.fields] == ["tenant_id"]
    await client.close()


async def test_the_access_rule_refuses_a_member_on_an_internal_rpc(target: str) -> None:
    client = client_for(target)
    member = Principal(kind=Principal.KIND_USER, user_id=1, tenant_id=1, role="owner")
    with pytest.raises(DomainError) as refused:
        await ask(client, 1, member)
    assert refused.value.code == "SERVICE_ONLY" and refused.value.http_status == 401
    await client.close()


async def test_a_missing_rpc_is_unimplemented_not_a_failure(target: str) -> None:
    client = client_for(target)
    with pytest.raises(Unimplemented):
        await client.call(
            "progress",
            "/plixa.common.v1.OnboardingProgress/NoSuchRpc",
            onboarding_pb2.OnboardingProgressRequest(),
            REPLY,
            principal=service_principal("identity"),
        )
    await client.close()


async def test_slow_away_and_broken_callees_are_failures(target: str) -> None:
    client = client_for(target)
    with pytest.raises(ServiceUnavailable) as slow:
        await ask(client, 3)
    assert slow.value.status == grpc.StatusCode.DEADLINE_EXCEEDED
    assert slow.value.http_status == 503
    with pytest.raises(DomainError) as broken:
        await ask(client, 4)
    assert not isinstance(broken.value, (ServiceUnavailable, Unimplemented))
    assert (broken.value.code, broken.value.http_status) == ("INTERNAL", 500)
    away = client_for(f"127.0.0.1:{free_port()}")
    with pytest.raises(ServiceUnavailable) as unreachable:
        await ask(away, 1)
    assert unreachable.value.status == grpc.StatusCode.UNAVAILABLE
    await client.close()
    await away.close()


async def test_a_lost_database_answers_unavailable_so_the_caller_retries(target: str) -> None:
    client = client_for(target)
    with pytest.raises(ServiceUnavailable) as lost:
        await ask(client, 5)
    assert lost.value.status == grpc.StatusCode.UNAVAILABLE
    await client.close()


async def test_the_slow_handler_stops_at_the_callers_deadline_or_at_the_default(
    target: str,
) -> None:
    client = client_for(target)
    with pytest.raises(ServiceUnavailable):
        await ask(client, 3)  # a 0.5 s deadline
    await asyncio.wait_for(PROGRESS_SERVICER.cancelled.wait(), 1)  # gRPC cancelled the handler

    PROGRESS_SERVICER.cancelled = asyncio.Event()
    metadata = [
        ("x-request-id", "slow-1"),
        *sign(service_principal("identity"), SECRET, PROGRESS, "slow-1"),
    ]
    async with grpc.aio.insecure_channel(target) as channel:
        unbounded = channel.unary_unary(
            PROGRESS,
            request_serializer=onboarding_pb2.OnboardingProgressRequest.SerializeToString,
            response_deserializer=REPLY.FromString,
        )
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as stopped:
            await unbounded(
                onboarding_pb2.OnboardingProgressRequest(tenant_id=3), metadata=metadata
            )
    assert stopped.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 4  # the server's 1 s default, not the handler's 5 s
    assert PROGRESS_SERVICER.cancelled.is_set()
    await client.close()
