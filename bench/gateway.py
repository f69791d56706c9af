"""`make bench`: GET /v1/me three ways, in one run, on this machine.

  A  full path: HTTP → gateway (auth cache, policy, shared rate limit, transcoding) → gRPC →
     identity → PostgreSQL
  B  straight to identity over gRPC (GetMe with a signed principal): what the gateway adds is A − B
  C  one FastAPI process doing the same token lookup and queries: what the mesh costs is A vs C

Latency: p50/p99 at concurrency 1. Throughput: requests per second at the given concurrency.
Client and servers share the machine's cores, so read the figures relative to each other.
Targets (issue 2): the gateway adds at most 2 ms at p50; A reaches at least half of C's
throughput."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import httpx
from google.protobuf import empty_pb2

from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import identity_pb2, identity_pb2_grpc, internal_pb2, internal_pb2_grpc
from scripts.mesh import ROOT, Stack, free_port, wait_for
from services.kit.config import internal_secret
from services.kit.principal import service_principal, sign

ADMIN_URL = os.environ.get(
    "PLIXA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
Call = Callable[[], Awaitable[None]]


@dataclass
class Figures:
    name: str
    p50_ms: float
    p99_ms: float
    rps: float


async def latency(call: Call, requests: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def throughput(call: Call, concurrency: int, seconds: float) -> float:
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def measure(name: str, call: Call, args: argparse.Namespace) -> Figures:
    p50, p99 = await latency(call, args.requests, warmup=min(200, args.requests))
    rps = await throughput(call, args.concurrency, args.seconds)
    return Figures(name, p50, p99, rps)


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, one connection per concurrent
    caller, so the figures measure the servers rather than a client library's Python overhead
    (B's gRPC client is C code)."""

    def __init__(self, base_url: str, path: str, token: str) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self) -> None:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"{status}: {body[:200]!r}")
        self._idle.append((reader, writer))

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()


async def run(args: argparse.Namespace) -> list[Figures]:
    stack = Stack.for_tests(
        ADMIN_URL,
        services=("identity",),
        extra_env={
            "PLIXA_SCRYPT_LOG_N": "14",
            "PLIXA_LOG_LEVEL": "WARNING",
            # Limits stay on (the full path pays for them) but never refuse the benchmark.
            "PLIXA_RATE_LIMITS": "default=1000000000/60,auth=100000/60",
        },
    )
    baseline: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(stack.start)
        gateway = await asyncio.to_thread(stack.start_gateway)
        async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
            body = {
                "name": "Bench Owner",
                "email": "bench@example.com",
                "password": "bench-password",
                "password_confirmation": "bench-password",
                "company_name": "Bench Co",
                "country_code": "PT",
                "timezone": "Europe/Lisbon",
            }
            registered = await client.post("/v1/auth/register", json=body)
            token = registered.json()["data"]["token"]
        gateway_client = KeepAliveClient(gateway, "/v1/me", token)
        full = await measure("A  gateway (HTTP → gRPC)", gateway_client.get, args)
        gateway_client.close()

        address = f"127.0.0.1:{stack.ports['identity']}"
        async with grpc.aio.insecure_channel(address) as channel:
            principal: Principal = await internal_pb2_grpc.IdentityInternalStub(
                channel
            ).AuthenticateToken(
                internal_pb2.AuthenticateTokenRequest(token=token),
                metadata=sign(service_principal("bench"), internal_secret()),
            )
            stub = identity_pb2_grpc.IdentityStub(channel)
            secret = internal_secret()

            async def direct() -> None:
                reply: identity_pb2.Me = await stub.GetMe(
                    empty_pb2.Empty(), metadata=sign(principal, secret), timeout=5
                )
                assert reply.user.id

            straight = await measure("B  identity over gRPC", direct, args)

        port = free_port()
        env = {**os.environ, "BENCH_DATABASE_URL": stack.database_url, "BENCH_PORT": str(port)}
        baseline = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, "-m", "bench.one_process_app"], env=env, cwd=ROOT
        )
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(
            wait_for, lambda: httpx.get(f"{url}/v1/me", timeout=1).status_code == 401, "baseline"
        )
        baseline_client = KeepAliveClient(url, "/v1/me", token)
        alone = await measure("C  one FastAPI process", baseline_client.get, args)
        baseline_client.close()
        return [full, straight, alone]
    finally:
        if baseline is not None:
            baseline.terminate()
            baseline.wait()
        await asyncio.to_thread(stack.stop)


def report(figures: list[Figures], args: argparse.Namespace) -> None:
    full, straight, alone = figures
    print(f"\nGET /v1/me on {os.cpu_count()} cores (client and servers share them)")
    print(
        f"latency: {args.requests} sequential requests; throughput: {args.concurrency} concurrent, "
        f"{args.seconds:.0f} s\n"
    )
    print(f"{'path':28} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9}")
    for f in figures:
        print(f"{f.name:28} {f.p50_ms:8.2f} {f.p99_ms:8.2f} {f.rps:9.0f}")
    added = full.p50_ms - straight.p50_ms
    ratio = full.rps / alone.rps
    print(
        f"\ngateway adds {added:.2f} ms at p50 over direct gRPC "
        f"(target ≤ 2 ms: {'met' if added <= 2 else 'NOT met'})"
    )
    print(
        f"full path throughput = {ratio:.2f} × one-process "
        f"(target ≥ 0.5: {'met' if ratio >= 0.5 else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=1000, help="sequential requests for latency"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="concurrent clients for throughput"
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="duration of each throughput run"
    )
    args = parser.parse_args()
    report(asyncio.run(run(args)), args)


if __name__ == "__main__":
    main()
