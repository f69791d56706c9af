"""`make bench` (scheduling): availability and bookings on a private Plixa.

Availability: one service given by `--providers` providers (20), `--days` days (30), each day with
10 appointments and a 2-hour Google busy block, in America/Sao_Paulo; p50/p99 of
  1. the engine alone (calendars already in memory),
  2. in-process: the domain call the servicer makes (its SQL reads plus the engine),
  3. through the gateway: GET /v1/scheduling/availability (HTTP, auth, gRPC, JSON).
Bookings: `--bookings` attempts at `--concurrency` concurrent callers through the gateway, every
slot asked for twice (shuffled), on fresh providers; it reports successful bookings per second and
checks the database for double bookings (any two live appointments of one provider that overlap).

Targets (issue 11): availability p50 under 20 ms in-process and under 60 ms through the gateway;
200 bookings/s sustained with 0 double bookings. Client and servers share the machine's cores."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench import profile as profiling
from bench.gateway import KeepAlivePoster
from plixa.common.v1.principal_pb2 import Principal
from scripts.mesh import Stack
from services.kit.clock import SystemClock
from services.kit.db import Database, create_engine
from services.scheduling.domain import appointments as booking
from services.scheduling.domain import availability as engine
from services.scheduling.domain.appointments import Policy

ADMIN_URL = os.environ.get(
    "PLIXA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
STACK_ENV = {
    "PLIXA_DB_POOL_SIZE": "20",  # the production default, not the test stacks' 4
    "PLIXA_SCRYPT_LOG_N": "14",
    "PLIXA_LOG_LEVEL": "WARNING",
    "PLIXA_RATE_LIMITS": "default=100000000/60,auth=100000/60",
    "PLIXA_SCHEDULING_JOBS_SECONDS": "3600",
}
TZ = "America/Sao_Paulo"
OPEN_FROM, OPEN_TO = 9 * 60, 18 * 60  # 18 half-hour slots a day
APPOINTMENT_SLOTS = (0, 1, 3, 5, 7, 9, 11, 13, 15, 17)  # 10 half-hours a day
BUSY = (13 * 60, 15 * 60)  # a 2-hour Google busy block, local time
SCHEDULE_INSERT = (
    "INSERT INTO scheduling.provider_schedules (provider_id, tenant_id, timezone, rules,"
    " updated_at) VALUES ($1, $2, $3, $4::jsonb, $5)"
)
POLICY = Policy(timedelta(0), timedelta(days=365), (1440, 120))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def wall(day: date, minute: int) -> datetime:
    return engine.wall_clock(day, minute, ZoneInfo(TZ))


CPU_MS: dict[int, list[float]] = {}
PROFILES: list[tuple[str, list[profiling.Profile]]] = []


async def profiled(
    args: argparse.Namespace,
    label: str,
    pids: dict[str, int],
    load: Callable[[], Awaitable[object]],
) -> None:
    """With `--profile`, runs `load` again under py-spy (after the timed runs, so the figures
    are not skewed by the sampler) and keeps the profiles for the report."""
    if not args.profile:
        return
    started = time.perf_counter()
    await load()  # how long one pass takes: py-spy samples for that long
    seconds = max(1.0, time.perf_counter() - started)
    PROFILES.append((label, await profiling.record(pids, seconds, load)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc): per-request CPU of the
    servers is what a shared machine's load moves least."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def server_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of the gateway, scheduling and the database's backends serving the
    stack (a backend that appears later counts from zero)."""
    used = {name: cpu_seconds(pid) for name, pid in server_pids(stack).items()}
    conn = await asyncpg.connect(stack.database_url)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    for (pid,) in pids:
        with contextlib.suppress(FileNotFoundError):  # it ended meanwhile: its last figure stays
            BACKENDS[pid] = cpu_seconds(pid)
    used["postgres"] = sum(BACKENDS.values())
    return used


BACKENDS: dict[int, float] = {}  # backend pid → its CPU seconds when last seen


def server_pids(stack: Stack) -> dict[str, int]:
    return {
        name: pid
        for name in ("gateway", "scheduling")
        if (pid := stack.processes[name].pid) is not None
    }


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    """Wall milliseconds per call; this process's CPU milliseconds go to CPU_MS[id(out)]."""
    out: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        await call()
        out.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    CPU_MS[id(out)] = cpu
    return out


def machine_reference() -> str:
    """How fast this machine runs Python right now (shared cores make every figure move)."""
    import timeit

    best = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    return f"machine: sum(range(1000)) takes {best:.1f} µs here now (about 10 µs on an idle core)"


async def seed(url: str, tenant_id: int, providers: list[int], first: date, days: int) -> int:
    """Schedules, a service, 10 appointments a day and a 2-hour busy block per provider."""
    conn = await asyncpg.connect(url)
    try:
        rules = json.dumps(
            [
                {"kind": "open", "weekday": d, "date": None, "start": OPEN_FROM, "end": OPEN_TO}
                for d in range(7)
            ]
        )
        now = datetime.now(UTC)
        await conn.executemany(
            SCHEDULE_INSERT,
            [(p, tenant_id, TZ, rules, now) for p in providers],
        )
        service_id = await conn.fetchval(
            "INSERT INTO scheduling.services (tenant_id, name, duration_minutes, provider_ids,"
            " created_at, updated_at) VALUES ($1, 'Bench', 30, $2, $3, $3) RETURNING id",
            tenant_id,
            providers,
            now,
        )
        appointments = []
        busy = []
        for p in providers:
            for i in range(days):
                day = first + timedelta(days=i)
                for k in APPOINTMENT_SLOTS:
                    start = wall(day, OPEN_FROM + 30 * k)
                    end = start + timedelta(minutes=30)
                    appointments.append((tenant_id, service_id, p, start, end, TZ, now))
                busy.append((p, tenant_id, wall(day, BUSY[0]), wall(day, BUSY[1])))
        await conn.executemany(
            "INSERT INTO scheduling.appointments (tenant_id, service_id, provider_id, start_at,"
            " end_at, block_start, block_end, timezone, status, source, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $4, $5, $6, 'confirmed', 'staff', $7, $7)",
            appointments,
        )
        await conn.executemany(
            "INSERT INTO scheduling.busy_intervals (provider_id, tenant_id, start_at, end_at)"
            " VALUES ($1, $2, $3, $4)",
            busy,
        )
        await conn.execute("ANALYZE scheduling.appointments")
        return int(service_id)
    finally:
        await conn.close()


async def availability(stack: Stack, gateway: str, args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        owner = await register(http)
        tenant_id = owner["tenant"]["id"]
        providers = [10_000_000 + tenant_id * 1000 + i for i in range(args.providers)]
        first = date.today() + timedelta(days=7)
        last = first + timedelta(days=args.days - 1)
        service_id = await seed(stack.database_url, tenant_id, providers, first, args.days)

        # 1. the engine alone
        db = Database(
            create_engine(stack.database_url, "scheduling", pool_size=4),
            "scheduling",
            SystemClock(),
        )
        principal = Principal(
            kind=Principal.KIND_USER, user_id=1, tenant_id=tenant_id, role="owner"
        )
        try:
            async with db.reader(principal) as uow:
                service = await booking.load_service(uow, tenant_id, service_id)
                cal = await booking.calendars(
                    uow, tenant_id, service, providers, first, last, POLICY, seconds=True
                )

            async def engine_only() -> object:
                return engine.free_slots_of(cal.providers, cal.query)

            count = len(await engine_only())  # type: ignore[arg-type]

            async def in_process() -> object:
                async with db.reader(principal) as uow:
                    return await booking.free_slots(
                        uow,
                        tenant_id,
                        service_id,
                        None,
                        first.isoformat(),
                        last.isoformat(),
                        POLICY,
                    )

            await timed(in_process, 3)
            engine_ms = await timed(engine_only, args.runs)
            process_ms = await timed(in_process, args.runs)
            await profiled(
                args,
                "availability in-process",
                {"bench": os.getpid()},
                lambda: timed(in_process, args.runs),
            )
        finally:
            await db.dispose()

        headers = {"Authorization": f"Bearer {owner['token']}"}
        params: dict[str, str | int] = {
            "service_id": service_id,
            "from": first.isoformat(),
            "to": last.isoformat(),
        }

        async def through_gateway() -> object:
            response = await http.get("/v1/scheduling/availability", headers=headers, params=params)
            assert response.status_code == 200, response.text
            return response

        first_answer = await through_gateway()
        assert len(first_answer.json()["data"]) == count  # type: ignore[attr-defined]
        await timed(through_gateway, 3)
        cpu_before = await server_cpu(stack)
        gateway_ms = await timed(through_gateway, args.runs)
        server_ms = {
            name: (used - cpu_before[name]) * 1000 / args.runs
            for name, used in (await server_cpu(stack)).items()
        }
        await profiled(
            args,
            "availability through the gateway",
            server_pids(stack),
            lambda: timed(through_gateway, args.runs),
        )

    lines.append(
        f"availability: {args.providers} providers x {args.days} days, {len(APPOINTMENT_SLOTS)} "
        f"appointments a day each and a 2-hour busy block: {count} free slots"
    )
    for name, values in (
        ("engine alone (calendars in memory)", engine_ms),
        ("in-process (SQL reads + engine)", process_ms),
        ("through the gateway (HTTP → gRPC → JSON)", gateway_ms),
    ):
        cpu = CPU_MS.get(id(values))
        own = f"   (bench process CPU p50 {statistics.median(cpu):6.1f} ms)" if cpu else ""
        if name.startswith("through"):  # the work is in the gateway and scheduling processes
            own = (
                "   (CPU per call: "
                + ", ".join(f"{server} {ms:.1f} ms" for server, ms in server_ms.items())
                + ")"
            )
        lines.append(
            f"  {name:<44} p50 {statistics.median(values):7.1f} ms"
            f"   p99 {percentile(values, 0.99):7.1f} ms{own}"
        )
    lines.append(target("availability p50 in-process < 20 ms", statistics.median(process_ms) < 20))
    lines.append(
        target("availability p50 through the gateway < 60 ms", statistics.median(gateway_ms) < 60)
    )
    return lines


async def register(http: httpx.AsyncClient) -> dict[str, Any]:
    password = "bench-password-1"
    response = await http.post(
        "/v1/auth/register",
        json={
            "name": "Bench Owner",
            "email": f"bench-{random.getrandbits(40):x}@example.com",
            "password": password,
            "password_confirmation": password,
            "company_name": "Bench",
            "country_code": "BR",
            "timezone": TZ,
            "locale": "pt",
        },
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def bookings(stack: Stack, gateway: str, args: argparse.Namespace) -> list[str]:
    async with httpx.AsyncClient(
        base_url=gateway, timeout=60, limits=httpx.Limits(max_connections=args.concurrency)
    ) as http:
        owner = await register(http)
        tenant_id = owner["tenant"]["id"]
        # fresh providers, open all day, no bookings yet
        providers = [20_000_000 + tenant_id * 1000 + i for i in range(args.booking_providers)]
        conn = await asyncpg.connect(stack.database_url)
        try:
            rules = json.dumps(
                [
                    {"kind": "open", "weekday": d, "date": None, "start": 0, "end": 1440}
                    for d in range(7)
                ]
            )
            now = datetime.now(UTC)
            await conn.executemany(
                SCHEDULE_INSERT,
                [(p, tenant_id, TZ, rules, now) for p in providers],
            )
            service_id = await conn.fetchval(
                "INSERT INTO scheduling.services (tenant_id, name, duration_minutes,"
                " buffer_after_minutes, provider_ids, reminder_offsets, created_at, updated_at)"
                " VALUES ($1, 'Bench', 30, 10, $2, '{}', $3, $3) RETURNING id",
                tenant_id,
                providers,
                now,
            )
        finally:
            await conn.close()
        distinct = args.bookings // 2
        start_day = date.today() + timedelta(days=30)

        def slots_every(minutes: int, day: date) -> list[tuple[int, str]]:
            found = []
            for n in range(distinct):
                provider = providers[n % len(providers)]
                moment = wall(day, 0) + timedelta(minutes=minutes * (n // len(providers)))
                found.append((provider, moment.isoformat()))
            return found

        # 1. Free slots, each asked once (a 30-minute service with 10 minutes after: a slot
        #    every 40 minutes never overlaps its neighbour): what sustained booking costs.
        # 2. Every slot asked twice and every 20 minutes, so half the neighbours overlap on
        #    purpose: the race, and the database check for double bookings after it.
        free = slots_every(40, start_day)
        contended = slots_every(20, start_day + timedelta(days=1))
        contended = contended + contended
        random.Random(7).shuffle(contended)
        headers = {"Authorization": f"Bearer {owner['token']}"}
        phases: list[tuple[str, list[tuple[int, str]], dict[int, int], dict[str, int]]] = []
        timings: list[tuple[float, dict[str, float]]] = []

        for label, attempts in (
            (f"{distinct} free slots, each asked once", free),
            (f"{distinct} slots, each asked twice, neighbours overlapping", contended),
        ):
            queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
            for item in attempts:
                queue.put_nowait(item)
            outcomes: dict[int, int] = {}
            codes: dict[str, int] = {}

            async def caller(
                queue: asyncio.Queue[tuple[int, str]] = queue,
                outcomes: dict[int, int] = outcomes,
                codes: dict[str, int] = codes,
            ) -> None:
                client = (
                    KeepAlivePoster(gateway, {"Authorization": f"Bearer {owner['token']}"})
                    if args.http_client == "raw"
                    else None
                )
                try:
                    while True:
                        try:
                            provider, start = queue.get_nowait()
                        except asyncio.QueueEmpty:
                            return
                        body = {"service_id": service_id, "provider_id": provider, "start": start}
                        if client is not None:
                            status, raw = await client.post(
                                "/v1/scheduling/appointments", json.dumps(body).encode()
                            )
                        else:
                            response = await http.post(
                                "/v1/scheduling/appointments", headers=headers, json=body
                            )
                            status, raw = response.status_code, response.content
                        outcomes[status] = outcomes.get(status, 0) + 1
                        if status != 201:
                            code = json.loads(raw)["errors"][0]["code"]
                            codes[code] = codes.get(code, 0) + 1
                finally:
                    if client is not None:
                        client.close()

            async def load(caller: Callable[[], Awaitable[None]] = caller) -> None:
                await asyncio.gather(*(caller() for _ in range(args.concurrency)))

            cpu_before = await server_cpu(stack)
            cpu_before["bench client"] = time.process_time()
            started = time.perf_counter()
            if args.profile and not phases:  # the free phase is sampled; its rate is a profiled one
                PROFILES.append(
                    (
                        "bookings",
                        await profiling.record(server_pids(stack), args.profile_seconds, load),
                    )
                )
            else:
                await load()
            elapsed = time.perf_counter() - started
            cpu_after = {**await server_cpu(stack), "bench client": time.process_time()}
            per_attempt = {
                name: (used - cpu_before[name]) * 1000 / len(attempts)
                for name, used in cpu_after.items()
            }
            phases.append((label, attempts, outcomes, codes))
            timings.append((elapsed, per_attempt))
    conn = await asyncpg.connect(stack.database_url)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM scheduling.appointments WHERE tenant_id = $1", tenant_id
        )
        doubles = await conn.fetchval(
            "SELECT count(*) FROM scheduling.appointments a JOIN scheduling.appointments b"
            " ON a.provider_id = b.provider_id AND a.id < b.id"
            " AND tstzrange(a.block_start, a.block_end) && tstzrange(b.block_start, b.block_end)"
            " WHERE a.tenant_id = $1 AND a.status NOT IN ('cancelled', 'declined')"
            " AND b.status NOT IN ('cancelled', 'declined')",
            tenant_id,
        )
    finally:
        await conn.close()
    lines = [
        f"bookings on {len(providers)} providers at {args.concurrency} concurrent callers"
        f" ({args.http_client} HTTP client), two phases:"
    ]
    ok_total = 0
    for (label, attempts, outcomes, codes), (elapsed, per_attempt) in zip(
        phases, timings, strict=True
    ):
        ok = outcomes.get(201, 0)
        ok_total += ok
        lines += [
            f"  {label}: {len(attempts)} attempts",
            f"    answers {dict(sorted(outcomes.items()))} codes {codes}; {elapsed:.2f} s",
            f"    {ok / elapsed:7.1f} bookings/s ({len(attempts) / elapsed:.1f} attempts/s)",
            "    CPU per attempt: "
            + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_attempt.items()),
        ]
    (_, free_attempts, free_outcomes, _), (free_elapsed, _) = phases[0], timings[0]
    free_rate = free_outcomes.get(201, 0) / free_elapsed
    lines += [
        f"  {stored} stored in all; double bookings in the database: {doubles}",
        target(
            f"200 bookings/s sustained (free slots: {free_rate:.0f}/s)",
            free_rate >= 200 and free_outcomes.get(201, 0) == len(free_attempts),
        ),
        target("0 double bookings", doubles == 0 and stored == ok_total),
    ]
    return lines


def target(text: str, met: bool) -> str:
    return f"  target: {text:<48} {'met' if met else 'NOT met'}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--providers", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=30, help="timed availability calls per way")
    parser.add_argument("--bookings", type=int, default=2000, help="booking attempts (even)")
    parser.add_argument("--booking-providers", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skip-availability", action="store_true")
    parser.add_argument(
        "--http-client",
        choices=("raw", "httpx"),
        default="raw",
        help="the bookings' client: a minimal keep-alive one (default) or httpx",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the bench process (in-process availability) and the gateway and scheduling"
        " processes (through the gateway, bookings) with py-spy; bookings/s then run profiled",
    )
    parser.add_argument("--profile-seconds", type=float, default=10.0, help="bookings sampling")
    parser.add_argument("--profile-top", type=int, default=15)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stack = Stack.for_tests(
        ADMIN_URL, services=("identity", "scheduling"), extra_env=dict(STACK_ENV)
    )
    try:
        stack.start()
        gateway = stack.start_gateway()

        async def run() -> list[str]:
            lines = [] if args.skip_availability else await availability(stack, gateway, args)
            return [*lines, *await bookings(stack, gateway, args)]

        lines = asyncio.run(run())
    finally:
        keep = os.environ.get("PLIXA_BENCH_KEEP_LOGS")
        if keep:
            import shutil

            shutil.copytree(stack.workdir, keep, dirs_exist_ok=True)
        stack.stop()
    print("\n".join(["", "scheduling bench", machine_reference(), *lines, ""]))
    for label, profiles in PROFILES:
        profiling.report(f"profile of {label}", profiles, args.profile_top)


if __name__ == "__main__":
    main()
