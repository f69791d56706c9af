"""`python -m bench.floors`: what the frameworks alone cost on this machine, as a floor for the
CPU columns of `make bench`. Each server answers a fixed GetMe-sized reply with no work of ours:

  grpc.aio unary call             a grpc.aio server, called over one channel (the floor of a
                                  service per RPC, and of a caller per RPC)
  uvicorn bare ASGI               uvicorn + httptools + uvloop, no framework (the HTTP floor)
  uvicorn + one grpc.aio call     an ASGI app making one grpc.aio call per request (the
                                  gateway's floor: HTTP in, one RPC out, nothing else)
  uvicorn + one signed call       the same, the call made as the gateway must make it: through
                                  the kit's ServiceClient, with a request id and a signed
                                  principal, its trailers read (what a relayed call of an
                                  authenticated request costs before any routing, auth cache,
                                  rate limit, transcoding or envelope)

Server CPU per request from /proc, at 16 concurrent callers; the same keep-alive HTTP client as
`make bench`. Read them next to a `make bench` run made at the same time."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import uvicorn
import uvloop
from google.protobuf import empty_pb2

from bench.gateway import KeepAliveClient, cpu_seconds
from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import identity_pb2, identity_pb2_grpc
from scripts.mesh import free_port
from services.kit.client import ServiceClient

REPLY = identity_pb2.Me(
    user=identity_pb2.User(id=1, tenant_id=1, name="Ana", email="a@b.co", role="owner"),
    tenant=identity_pb2.Tenant(id=1, name="Bench", slug="bench", country_code="BR"),
)
GET_ME = "/plixa.identity.v1.Identity/GetMe"
# As the gateway passes a member's session: the principal the cache resolved, signed per call.
PRINCIPAL = Principal(
    kind=Principal.KIND_USER,
    user_id=1,
    tenant_id=1,
    role="owner",
    token_id=1,
    abilities=["*"],
    tenant_status="active",
    plan="starter",
    features=["inbox", "scheduling"],
    email="ana@example.com",
)
BODY = b'{"data":{"user":{"id":1,"name":"Ana"},"tenant":{"id":1}},"meta":null,"errors":null}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Fixed(identity_pb2_grpc.IdentityServicer):
    async def GetMe(self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext) -> Any:
        return REPLY


def grpc_server(port: int) -> None:
    async def serve() -> None:
        server = grpc.aio.server()
        identity_pb2_grpc.add_IdentityServicer_to_server(Fixed(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()

    uvloop.run(serve())


async def answer(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def http_server(port: int, grpc_port: int | None, signed: bool = False) -> None:
    channel: grpc.aio.Channel | None = None
    client: ServiceClient | None = None

    async def app(scope: Scope, receive: Any, send: Send) -> None:
        nonlocal channel, client
        if scope["type"] != "http":
            return
        if grpc_port is not None and signed:
            if client is None:
                client = ServiceClient(b"bench-secret", lambda _: f"127.0.0.1:{grpc_port}")
            await client.invoke(
                "identity",
                GET_ME,
                empty_pb2.Empty(),
                identity_pb2.Me,
                principal=PRINCIPAL,
                timeout=5,
                request_id=os.urandom(16).hex(),
            )
        elif grpc_port is not None:
            if channel is None:
                channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
            await identity_pb2_grpc.IdentityStub(channel).GetMe(empty_pb2.Empty(), timeout=5)
        await answer(send)

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
    )


async def drive(call: Callable[[], Awaitable[object]], callers: int, seconds: float) -> int:
    stop_at, done = time.perf_counter() + seconds, 0

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await call()
            done += 1

    await asyncio.gather(*(caller() for _ in range(callers)))
    return done


async def measure(callers: int, seconds: float) -> None:
    grpc_port, bare_port, relay_port = free_port(), free_port(), free_port()
    signed_port = free_port()
    servers = {
        "grpc": multiprocessing.Process(target=grpc_server, args=(grpc_port,)),
        "bare": multiprocessing.Process(target=http_server, args=(bare_port, None)),
        "relay": multiprocessing.Process(target=http_server, args=(relay_port, grpc_port)),
        "signed": multiprocessing.Process(target=http_server, args=(signed_port, grpc_port, True)),
    }
    for process in servers.values():
        process.start()
    await asyncio.sleep(2)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = identity_pb2_grpc.IdentityStub(channel)

            async def rpc() -> None:
                await stub.GetMe(empty_pb2.Empty(), timeout=5)

            bare = KeepAliveClient(f"http://127.0.0.1:{bare_port}", "/v1/me", "-")
            relay = KeepAliveClient(f"http://127.0.0.1:{relay_port}", "/v1/me", "-")
            signed = KeepAliveClient(f"http://127.0.0.1:{signed_port}", "/v1/me", "-")
            cases: list[tuple[str, Callable[[], Awaitable[None]], list[str]]] = [
                ("grpc.aio unary call", rpc, ["grpc"]),
                ("uvicorn bare ASGI", bare.get, ["bare"]),
                ("uvicorn + one grpc.aio call", relay.get, ["relay", "grpc"]),
                ("uvicorn + one signed call", signed.get, ["signed", "grpc"]),
            ]
            print(f"\nframework floors, {callers} concurrent callers, {seconds:g} s each")
            print(f"{'':30} {'req/s':>7}   server CPU µs per request")
            for label, call, roles in cases:
                await drive(call, callers, 1.0)  # warm-up
                pids = [servers[role].pid or 0 for role in roles]
                before = [cpu_seconds(pid) or 0.0 for pid in pids]
                done = await drive(call, callers, seconds)
                spent = [(cpu_seconds(pid) or 0.0) - b for pid, b in zip(pids, before, strict=True)]
                costs = ", ".join(
                    f"{role} {s / done * 1e6:.0f}" for role, s in zip(roles, spent, strict=True)
                )
                print(f"{label:30} {done / seconds:7.0f}   {costs}")
            for client in (bare, relay, signed):
                await client.close()
    finally:
        for process in servers.values():
            process.terminate()
            process.join()


def main() -> None:
    uvloop.run(measure(callers=16, seconds=4.0))


if __name__ == "__main__":
    main()
