"""`make bench`: GET /v1/me three ways, in one run, on this machine.

  A  full path: HTTP → gateway (auth cache, policy, shared rate limit, transcoding) → gRPC →
     identity → PostgreSQL
  B  straight to identity over gRPC: GetMe with a signed principal, a request id and a deadline,
     as the gateway sends it (the principal is resolved once, as the gateway's cache does), so
     what the gateway adds is A − B
  C  the lean app a strong engineer would write (bench/one_process_app.py): one FastAPI process,
     an asyncpg pool, one joined query, no ORM: what the mesh costs is A against C

Latency: p50/p99 over sequential requests (concurrency 1) after a warm-up. Throughput: requests
per second with each of `--concurrency` callers (16 and 32 by default) for `--seconds` per path.
The paths take turns in `--rounds` rounds, so a drift of the machine's speed falls on all three
alike. CPU per request is read from /proc for the client and every server process (PostgreSQL:
the backends of the bench's database), during the throughput runs. `--profile` then samples the
server processes with py-spy under load and prints where their CPU goes.

Client and servers share the machine's cores, so read the figures relative to each other.
Targets (issue 6): A reaches at least 0.4× of C's throughput at 16–32 concurrent callers; the
gateway adds at most 1 ms at p50 over direct gRPC; the gateway spends at most 350 µs of CPU per
request, identity at most 600 µs per GetMe."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import grpc
import httpx
import uvloop
from google.protobuf import empty_pb2

from bench import profile as profiling
from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import identity_pb2, identity_pb2_grpc, internal_pb2, internal_pb2_grpc
from scripts.mesh import Process, Stack, free_port, wait_for
from services.kit.config import internal_secret
from services.kit.interceptors import REQUEST_ID_KEY
from services.kit.principal import service_principal, sign

ADMIN_URL = os.environ.get(
    "PLIXA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
STACK_ENV = {
    "PLIXA_DB_POOL_SIZE": "20",  # the production default, not the test stacks' 4
    "PLIXA_SCRYPT_LOG_N": "14",
    "PLIXA_LOG_LEVEL": "WARNING",
    # Limits stay on (the full path pays for the shared counter) but never refuse the bench.
    "PLIXA_RATE_LIMITS": "default=100000000/60,auth=100000/60",
}
BASELINE = "one-process"
PASSWORD = "bench-password-1"
LATER_WARMUP = 20  # requests before each later round's samples (connections may be new)
TARGET_ADDED_MS = 1.0
TARGET_RATIO = 0.4
TARGET_GATEWAY_CPU_US = 350
TARGET_IDENTITY_CPU_US = 600
# Whose CPU is counted, in the order of the table's columns.
ROLES = ("client", "gateway", "identity", BASELINE, "postgres", "nats")
ROLE_HEADS = ("client", "gateway", "identity", "app C", "postgres", "nats")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

Call = Callable[[], Awaitable[None]]


# ── measuring ─────────────────────────────────────────────────────────────────────────────


@dataclass
class Tally:
    """One path's measurements, summed over the rounds."""

    label: str
    call: Call
    samples_ms: list[float] = field(default_factory=list)
    # Per concurrency: requests completed and the seconds they took.
    runs: dict[int, tuple[int, float]] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def percentile(self, share: float) -> float:
        """Nearest-rank percentile of the latency samples."""
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]

    @property
    def p50(self) -> float:
        return self.percentile(0.50)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    def rps(self, concurrency: int) -> float:
        requests, seconds = self.runs.get(concurrency, (0, 0.0))
        return requests / seconds if seconds else 0.0

    @property
    def requests(self) -> int:
        return sum(requests for requests, _ in self.runs.values())

    def add_run(self, concurrency: int, requests: int, seconds: float) -> None:
        before = self.runs.get(concurrency, (0, 0.0))
        self.runs[concurrency] = (before[0] + requests, before[1] + seconds)

    def cpu_us_per_request(self, role: str) -> float | None:
        if role not in self.cpu_seconds or not self.requests:
            return None
        return self.cpu_seconds[role] / self.requests * 1e6


async def sequential(call: Call, warmup: int, requests: int) -> list[float]:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def concurrent(call: Call, concurrency: int, seconds: float) -> tuple[int, float]:
    """Requests completed and the time they took, `concurrency` callers for `seconds`."""
    done = 0
    started = time.perf_counter()
    stop_at = started + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await call()
            done += 1

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done, time.perf_counter() - started


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads) so far, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


class CpuMeter:
    """CPU spent by each role's processes between two readings. PostgreSQL backends come and go
    with the pools, so they are looked up at each reading (a new one counts from zero)."""

    def __init__(self, pids: dict[str, int], database: asyncpg.Connection) -> None:
        self.pids = pids
        self.database = database

    async def _postgres_pids(self) -> list[int]:
        rows = await self.database.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [int(row["pid"]) for row in rows]

    async def read(self) -> dict[str, dict[int, float]]:
        pids = {role: [pid] for role, pid in self.pids.items()}
        pids["postgres"] = await self._postgres_pids()
        reading: dict[str, dict[int, float]] = {}
        for role, role_pids in pids.items():
            reading[role] = {}
            for pid in role_pids:
                value = cpu_seconds(pid)
                if value is not None:
                    reading[role][pid] = value
        return reading

    @staticmethod
    def spent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        return {
            role: sum(value - before.get(role, {}).get(pid, 0.0) for pid, value in now.items())
            for role, now in after.items()
        }


async def measure(tallies: list[Tally], meter: CpuMeter, args: argparse.Namespace) -> None:
    """Latency, then throughput, path after path, round after round."""
    for round_index in range(args.rounds):
        warmup = args.warmup if round_index == 0 else min(LATER_WARMUP, args.warmup)
        samples = args.requests // args.rounds + (round_index < args.requests % args.rounds)
        for tally in tallies:
            tally.samples_ms += await sequential(tally.call, warmup, max(1, samples))
        for concurrency in args.concurrency:
            for tally in tallies:
                before = await meter.read()
                done, took = await concurrent(tally.call, concurrency, args.seconds / args.rounds)
                after = await meter.read()
                tally.add_run(concurrency, done, took)
                for role, spent in CpuMeter.spent(before, after).items():
                    tally.cpu_seconds[role] = tally.cpu_seconds.get(role, 0.0) + spent


# ── clients ───────────────────────────────────────────────────────────────────────────────


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive GET on asyncio streams, one connection per concurrent
    caller, so the figures measure the servers rather than a client library's Python overhead
    (httpx spends about 2 ms of CPU per request here, more than the gateway: compare with
    `--http-client httpx`). A connection the server closed while idle is replaced."""

    def __init__(self, base_url: str, path: str, token: str) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self) -> None:
        reused = bool(self._idle)
        reader, writer = self._idle.pop() if reused else await self._connect()
        try:
            status, body = await self._exchange(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            if not reused:
                raise
            reader, writer = await self._connect()  # the server timed the idle connection out
            status, body = await self._exchange(reader, writer)
        if status != 200:
            writer.close()
            raise RuntimeError(f"GET answered {status}: {body[:300]!r}")
        self._idle.append((reader, writer))

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[int, bytes]:
        writer.write(self.request)
        return await read_response(reader)

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length: (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


class KeepAlivePoster:
    """The POST of the same minimal client: one keep-alive connection per caller, JSON bodies,
    `headers` sent with every request (and per-request ones with `post`)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.fixed = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.fixed}{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(request)
        return await read_response(reader)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


class HttpxClient:
    """The same GET through httpx.AsyncClient (keep-alive pool), for `--http-client httpx`."""

    def __init__(self, base_url: str, path: str, token: str, concurrency: int) -> None:
        self.path = path
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            timeout=30,
        )

    async def get(self) -> None:
        response = await self.client.get(self.path)
        if response.status_code != 200:
            raise RuntimeError(f"GET answered {response.status_code}: {response.text[:300]}")

    async def close(self) -> None:
        await self.client.aclose()


HttpClient = KeepAliveClient | HttpxClient


def http_client(kind: str, base_url: str, token: str, concurrency: int) -> HttpClient:
    if kind == "httpx":
        return HttpxClient(base_url, "/v1/me", token, concurrency)
    return KeepAliveClient(base_url, "/v1/me", token)


# ── the run ───────────────────────────────────────────────────────────────────────────────


@dataclass
class Deployment:
    stack: Stack
    gateway_url: str
    baseline_url: str
    token: str


def registration() -> dict[str, str]:
    """A valid POST /v1/auth/register body (as tests/conftest.py builds one)."""
    return {
        "name": "Bench Owner",
        "email": f"bench-{uuid.uuid4().hex[:10]}@example.com",
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        "company_name": "Bench Studios",
        "country_code": "BR",
        "tax_id": "12.345.678/0001-90",
        "timezone": "America/Sao_Paulo",
        "locale": "pt",
    }


def start_baseline(stack: Stack) -> str:
    """Starts path C's process; it joins the stack's processes, so stack.stop() stops it."""
    port = free_port()
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": stack.database_url,
        "BENCH_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    process = Process(
        BASELINE,
        [sys.executable, "-m", "bench.one_process_app"],
        env,
        stack.workdir / f"{BASELINE}.log",
    )
    stack.processes[BASELINE] = process
    process.start()
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        return process.running and httpx.get(f"{url}/healthz", timeout=1).status_code == 200

    try:
        wait_for(healthy, BASELINE)
    except TimeoutError as exc:
        raise RuntimeError(f"{BASELINE} failed to start:\n{process.log_tail()}") from exc
    return url


def check_answers(deployment: Deployment) -> str:
    """A and C must answer the same document, or the comparison means nothing."""
    headers = {"Authorization": f"Bearer {deployment.token}"}
    full = httpx.get(f"{deployment.gateway_url}/v1/me", headers=headers, timeout=10)
    alone = httpx.get(f"{deployment.baseline_url}/v1/me", headers=headers, timeout=10)
    if full.status_code != 200 or alone.status_code != 200:
        raise RuntimeError(f"GET /v1/me answered A {full.status_code}, C {alone.status_code}")
    if full.json() != alone.json():
        return f"A and C answer DIFFERENT bodies:\n  A {full.text}\n  C {alone.text}"
    same_bytes = "byte for byte" if full.content == alone.content else "as JSON"
    return f"A and C answer the same body ({same_bytes}, {len(full.content)} bytes)"


def deploy(stack: Stack) -> Deployment:
    stack.start()
    gateway_url = stack.start_gateway()
    registered = httpx.post(f"{gateway_url}/v1/auth/register", json=registration(), timeout=30)
    if registered.status_code != 201:
        raise RuntimeError(f"registration answered {registered.status_code}: {registered.text}")
    token = registered.json()["data"]["token"]
    return Deployment(stack, gateway_url, start_baseline(stack), token)


@dataclass
class Outcome:
    tallies: list[Tally]
    profiles: list[tuple[str, list[profiling.Profile]]] = field(default_factory=list)


# The processes that serve each path, sampled by `--profile`.
PROFILED = {0: ("gateway", "identity"), 1: ("identity",), 2: (BASELINE,)}


AUTHENTICATE = "/plixa.identity.v1.IdentityInternal/AuthenticateToken"
GET_ME = "/plixa.identity.v1.Identity/GetMe"


async def run(deployment: Deployment, args: argparse.Namespace) -> Outcome:
    Interrupt.task = asyncio.current_task()
    stack = deployment.stack
    secret = internal_secret()
    address = f"127.0.0.1:{stack.ports['identity']}"
    kind, concurrency = args.http_client, max(args.concurrency)
    full_client = http_client(kind, deployment.gateway_url, deployment.token, concurrency)
    alone_client = http_client(kind, deployment.baseline_url, deployment.token, concurrency)
    database = await asyncpg.connect(stack.database_url)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            principal: Principal = await internal_pb2_grpc.IdentityInternalStub(
                channel
            ).AuthenticateToken(
                internal_pb2.AuthenticateTokenRequest(token=deployment.token),
                metadata=[
                    (REQUEST_ID_KEY, "bench-auth"),
                    *sign(service_principal("bench"), secret, AUTHENTICATE, "bench-auth"),
                ],
                timeout=10,
            )
            get_me = identity_pb2_grpc.IdentityStub(channel).GetMe

            async def direct() -> None:
                request_id = uuid.uuid4().hex
                principal.request_id = request_id
                reply: identity_pb2.Me = await get_me(
                    empty_pb2.Empty(),
                    metadata=[
                        (REQUEST_ID_KEY, request_id),
                        *sign(principal, secret, GET_ME, request_id),
                    ],
                    timeout=10,
                )
                if not reply.user.id:
                    raise RuntimeError("GetMe answered no user")

            tallies = [
                Tally("A  gateway (HTTP → gRPC)", full_client.get),
                Tally("B  identity over gRPC", direct),
                Tally("C  one FastAPI process", alone_client.get),
            ]
            pids = {"client": os.getpid()}
            for name in ("gateway", "identity", BASELINE):
                popen = stack.processes[name].popen
                if popen is not None:
                    pids[name] = popen.pid
            if stack.nats_process is not None and stack.nats_process.popen is not None:
                pids["nats"] = stack.nats_process.popen.pid
            await measure(tallies, CpuMeter(pids, database), args)
            outcome = Outcome(tallies)
            for index, tally in enumerate(tallies if args.profile else ()):
                roles = {role: pids[role] for role in PROFILED[index] if role in pids}

                async def load(call: Call = tally.call) -> None:
                    await concurrent(call, concurrency, args.profile_seconds)

                label = tally.label.split()[0]
                profiles = await profiling.record(
                    roles, args.profile_seconds, load, args.profile_keep, label
                )
                outcome.profiles.append((label, profiles))
            return outcome
    finally:
        Interrupt.task = None
        await full_client.close()
        await alone_client.close()
        await database.close()


# ── the report ────────────────────────────────────────────────────────────────────────────


def machine_facts() -> Iterator[str]:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    python = sys.version.split()[0]
    yield f"machine: {cores} cores ({usable} usable by this process), Python {python}"
    with contextlib.suppress(OSError):
        with open("/proc/loadavg") as loadavg:
            load = " ".join(loadavg.read().split()[:3])
        yield f"load average before the run: {load} (other work on the machine skews figures)"
    yield "client and servers share these cores (loopback only): compare A, B and C to each other"


def report(tallies: list[Tally], args: argparse.Namespace, notes: list[str]) -> None:
    full, straight, alone = tallies
    levels = args.concurrency
    print("\nGET /v1/me")
    for line in notes:
        print(f"  {line}")
    print(
        f"  latency: {len(full.samples_ms)} sequential requests per path; throughput: "
        f"{' and '.join(map(str, levels))} concurrent callers for {args.seconds:g} s per path "
        f"each\n  {args.rounds} rounds (the paths take turns); HTTP client for A and C: "
        f"{args.http_client}; CPU per request over all throughput runs\n"
    )
    rps_heads = "".join(f"{f'req/s@{c}':>10}" for c in levels)
    cpu_heads = "".join(f"{head:>9}" for head in ROLE_HEADS)
    print(f"{'path':26} {'p50 ms':>7} {'p99 ms':>7}{rps_heads}   CPU µs per request:")
    print(f"{'':26} {'':>7} {'':>7}{'':>{10 * len(levels)}} {cpu_heads}")
    for tally in tallies:
        cpu = ""
        for role in ROLES:
            value = tally.cpu_us_per_request(role)
            cpu += f"{value:9.0f}" if value is not None else f"{'-':>9}"
        rps = "".join(f"{tally.rps(c):10.0f}" for c in levels)
        print(f"{tally.label:26} {tally.p50:7.2f} {tally.p99:7.2f}{rps} {cpu}")

    print("\ntargets (issue 6):")
    for level in levels:
        ratio = full.rps(level) / alone.rps(level) if alone.rps(level) else 0.0
        print(
            f"  full path throughput at {level} callers = {ratio:.2f} × the lean app "
            f"({full.rps(level):.0f} vs {alone.rps(level):.0f} req/s; "
            f"target ≥ {TARGET_RATIO:g}×: {verdict(ratio >= TARGET_RATIO)})"
        )
    added = full.p50 - straight.p50
    print(
        f"  gateway adds {added:.2f} ms at p50 over direct gRPC "
        f"(target ≤ {TARGET_ADDED_MS:g} ms: {verdict(added <= TARGET_ADDED_MS)})"
    )
    gateway_cpu = full.cpu_us_per_request("gateway") or 0.0
    print(
        f"  gateway CPU {gateway_cpu:.0f} µs per request "
        f"(target ≤ {TARGET_GATEWAY_CPU_US} µs: {verdict(gateway_cpu <= TARGET_GATEWAY_CPU_US)})"
    )
    identity_cpu = full.cpu_us_per_request("identity") or 0.0
    direct_cpu = straight.cpu_us_per_request("identity") or 0.0
    print(
        f"  identity CPU {identity_cpu:.0f} µs per GetMe on the full path, {direct_cpu:.0f} µs "
        f"over direct gRPC (target ≤ {TARGET_IDENTITY_CPU_US} µs: "
        f"{verdict(identity_cpu <= TARGET_IDENTITY_CPU_US)})"
    )
    level = max(levels)
    print(
        f"  for reference: direct gRPC throughput at {level} callers = "
        f"{straight.rps(level) / alone.rps(level) if alone.rps(level) else 0:.2f} × the lean "
        f"app; full path p50 = {full.p50 / alone.p50 if alone.p50 else 0:.2f} × its p50"
    )


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def concurrency_levels(text: str) -> list[int]:
    return sorted({positive_int(part) for part in text.split(",") if part.strip()})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=1500,
        help="sequential requests per path, for latency (default 1500)",
    )
    parser.add_argument(
        "--concurrency",
        type=concurrency_levels,
        default=[16, 32],
        help="concurrent callers per path for throughput, one or more: 16,32 (the default)",
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=6.0,
        help="throughput run per path, split over the rounds (default 6)",
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="requests per path before measuring (default 200)"
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=3, help="turns the paths take (default 3)"
    )
    parser.add_argument(
        "--http-client",
        choices=("raw", "httpx"),
        default="raw",
        help="HTTP client for A and C: a minimal keep-alive client (default) or httpx",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then sample the server processes with py-spy under load and print their top costs",
    )
    parser.add_argument(
        "--profile-seconds",
        type=positive_float,
        default=8.0,
        help="load per path while sampling (default 8)",
    )
    parser.add_argument(
        "--profile-top", type=positive_int, default=12, help="lines per list (default 12)"
    )
    parser.add_argument(
        "--profile-keep",
        type=Path,
        default=None,
        help="keep py-spy's collapsed stacks in this folder (flamegraph.pl, speedscope)",
    )
    return parser.parse_args(argv)


class Interrupt:
    """Ctrl-C reaches the whole process group: the servers stop too, so the bench may fail with
    a refused or cancelled call rather than KeyboardInterrupt; remembering the signal tells the
    two apart. While the measuring loop runs, Ctrl-C cancels its task (as asyncio.run does), so
    the clients close in order."""

    seen = False
    task: asyncio.Task[object] | None = None

    @classmethod
    def handle(cls, signum: int, frame: object) -> None:
        if cls.seen:
            return
        cls.seen = True
        if cls.task is None:
            raise KeyboardInterrupt
        cls.task.get_loop().call_soon_threadsafe(cls.task.cancel)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, Interrupt.handle)
    stack = Stack.for_tests(ADMIN_URL, services=("identity",), extra_env=dict(STACK_ENV))
    started = time.monotonic()
    try:
        notes = list(machine_facts())  # the load average before the bench adds its own
        deployment = deploy(stack)
        notes.append(check_answers(deployment))
        outcome = uvloop.run(run(deployment, args))
    except (KeyboardInterrupt, asyncio.CancelledError, Exception):
        if not Interrupt.seen:
            raise
        print(
            "\ninterrupted: the bench's processes and database are being removed", file=sys.stderr
        )
        raise SystemExit(130) from None
    finally:
        # A second Ctrl-C must not leave the database, NATS or a service behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
    report(outcome.tallies, args, notes)
    for label, profiles in outcome.profiles:
        profiling.report(f"profile of path {label}", profiles, args.profile_top)
    print(f"\n(the whole bench took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
