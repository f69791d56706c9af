"""`python -m bench.inbound` (part of `make bench`): inbound WhatsApp messages per second through
the real gateway and Evolution webhook endpoint to a stored message and a published event.

  mesh   gateway → inbox (gRPC) → PostgreSQL (contact + conversation upserts, idempotent message
         insert, outbox rows) → the kit's relay → JetStream `inbox.message.inbound`
  floor  one process: raw ASGI + asyncpg, one transaction per message, a relay publishing to
         JetStream with Nats-Msg-Id (bench/inbound_floor.py)

Many customers across several tenants post for `--seconds` at `--concurrency` callers; a share
of deliveries are repeated (Evolution's retries). Each app first takes `--warmup` seconds of the
same load, not counted, and its tables are then analyzed, as autovacuum does within a minute of
a table filling: the measured run is the steady state, not a fresh database's first seconds,
whose statements were planned on empty tables (a cached generic plan then scans a whole tenant's
conversations through whichever tenant-leading index won the tie) until the first analyze.
Reported: messages/s, webhook p50/p99 (HTTP), receipt→event p50/p99 (the POST leaving the
client until the event arrives on NATS), and the check that every message id is exactly once in
the database and exactly once on the stream.
Then the conversation list for a tenant with 10,000 conversations and 200,000 messages: first
page, and a search by phone and by name (p50 over `--list-requests`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import uvloop

from bench import profile as profiling
from bench.gateway import CpuMeter, KeepAliveClient, KeepAlivePoster
from bench.inbound_floor import SUBJECT as FLOOR_SUBJECT
from bench.inbound_floor import prepare as prepare_floor
from bench.inbound_floor import serve as serve_floor
from plixa.inbox.v1 import events_pb2
from scripts.mesh import Stack, free_port, wait_for
from tests.conftest import ADMIN_URL

STACK_ENV = {
    "PLIXA_DB_POOL_SIZE": "20",  # the production default, not the test stacks' 4
    "PLIXA_SCRYPT_LOG_N": "14",
    "PLIXA_LOG_LEVEL": "WARNING",
    "PLIXA_RATE_LIMITS": "default=100000000/60,auth=100000/60,webhook=100000000/60",
}
PASSWORD = "bench-password-1"


@dataclass
class Target:
    instance: str
    secret: str
    tenant_id: int
    path: str


@dataclass
class Run:
    label: str
    sent_at: dict[str, float] = field(default_factory=dict)
    http_ms: list[float] = field(default_factory=list)
    event_at: dict[str, float] = field(default_factory=dict)
    event_count: dict[str, int] = field(default_factory=dict)
    deliveries: int = 0
    repeats: int = 0
    failures: int = 0
    elapsed: float = 0.0
    stored_unique: int = 0
    stored_rows: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def lag_ms(self) -> list[float]:
        return [
            (self.event_at[i] - self.sent_at[i]) * 1000 for i in self.sent_at if i in self.event_at
        ]


def pct(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def payload(target: Target, phone: str, wa_id: str) -> bytes:
    return json.dumps(
        {
            "event": "messages.upsert",
            "instance": target.instance,
            "data": {
                "key": {"remoteJid": f"{phone}@s.whatsapp.net", "fromMe": False, "id": wa_id},
                "pushName": f"Cliente {phone[-4:]}",
                "status": "DELIVERY_ACK",
                "message": {"conversation": f"Olá, quero saber do pedido {wa_id}"},
                "messageType": "conversation",
                "messageTimestamp": int(time.time()),
                "instanceId": "bench",
                "source": "android",
            },
        }
    ).encode()


async def drive(
    run: Run,
    base_url: str,
    targets: list[Target],
    subject: str,
    nats_url: str,
    args: argparse.Namespace,
    seconds: float | None = None,
    id_prefix: str = "B",
) -> None:
    client = await nats.connect(nats_url)

    async def on_event(msg: Any) -> None:
        now = time.perf_counter()
        wa_id = events_pb2.MessageEvent.FromString(msg.data).message.whatsapp_message_id
        run.event_at.setdefault(wa_id, now)
        run.event_count[wa_id] = run.event_count.get(wa_id, 0) + 1

    await client.subscribe(subject, cb=on_event)
    await client.flush()
    counter = 0
    stop_at = time.perf_counter() + (args.seconds if seconds is None else seconds)
    customers = args.customers

    async def caller(index: int) -> None:
        nonlocal counter
        poster = KeepAlivePoster(base_url)
        recent: list[tuple[Target, str, str]] = []
        try:
            while time.perf_counter() < stop_at:
                counter += 1
                n = counter
                if recent and n % max(1, round(1 / args.repeat_share)) == 0:
                    target, phone, wa_id = recent[n % len(recent)]
                    run.repeats += 1
                else:
                    target = targets[n % len(targets)]
                    phone = f"5521{(n * 7919) % customers:09d}"
                    wa_id = f"{id_prefix}{index:03d}{n:09d}"
                    recent = [*recent[-20:], (target, phone, wa_id)]
                body = payload(target, phone, wa_id)
                started = time.perf_counter()
                run.sent_at.setdefault(wa_id, started)
                status, _ = await poster.post(
                    target.path, body, {"X-Plixa-Instance-Secret": target.secret}
                )
                run.http_ms.append((time.perf_counter() - started) * 1000)
                run.deliveries += 1
                if status != 200:
                    run.failures += 1
        finally:
            poster.close()

    began = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(args.concurrency)))
    run.elapsed = time.perf_counter() - began
    deadline = time.perf_counter() + 60
    while len(run.event_at) < len(run.sent_at) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a duplicate publish, if any, would arrive now
    await client.close()


async def count_stored(database_url: str, query: str, ids: list[str]) -> tuple[int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(query, ids)
        return int(row["rows"]), int(row["uniq"])
    finally:
        await conn.close()


def setup_mesh(stack: Stack, base_url: str, tenants: int) -> list[Target]:
    assert stack.evolution is not None
    targets = []
    with httpx.Client(base_url=base_url, timeout=30) as api:
        for i in range(tenants):
            registered = api.post(
                "/v1/auth/register",
                json={
                    "name": f"Bench {i}",
                    "email": f"bench-inbound-{i}-{time.time_ns()}@example.com",
                    "password": PASSWORD,
                    "password_confirmation": PASSWORD,
                    "company_name": f"Bench {i}",
                    "country_code": "BR",
                    "timezone": "America/Sao_Paulo",
                },
            )
            assert registered.status_code == 201, registered.text
            data = registered.json()["data"]
            headers = {"Authorization": f"Bearer {data['token']}"}
            created = api.post("/v1/phone-instances", json={}, headers=headers)
            assert created.status_code == 201, created.text
            name = created.json()["data"]["instance_name"]
            assert stack.evolution.connect(name, f"55119{i:08d}").status_code == 200
            secret = stack.evolution.instances[name].webhook["headers"]["x-plixa-instance-secret"]
            targets.append(
                Target(name, secret, int(data["tenant"]["id"]), f"/v1/webhooks/evolution/{name}")
            )
    return targets


def report(run: Run) -> tuple[float, float, bool]:
    lag = run.lag_ms()
    unique = len(run.sent_at)
    rate = run.stored_unique / run.elapsed if run.elapsed else 0.0
    on_stream_once = sum(1 for i in run.sent_at if run.event_count.get(i) == 1)
    duplicated = sum(1 for c in run.event_count.values() if c > 1)
    lost = unique - on_stream_once - duplicated
    exact = run.stored_rows == run.stored_unique == unique and on_stream_once == unique
    print(
        f"{run.label:<6} {rate:8.0f} msg/s  webhook p50 {pct(run.http_ms, 0.5):6.1f} ms"
        f"  p99 {pct(run.http_ms, 0.99):6.1f} ms   receipt→event p50 {pct(lag, 0.5):6.1f} ms"
        f"  p99 {pct(lag, 0.99):7.1f} ms"
    )
    print(
        f"       {run.deliveries} deliveries ({run.repeats} repeats, {run.failures} non-200),"
        f" {unique} message ids: {run.stored_rows} rows / {run.stored_unique} distinct in the"
        f" database, {on_stream_once} exactly once on the stream, {duplicated} duplicated,"
        f" {lost} lost → {'OK' if exact else 'MISMATCH'}"
    )
    if run.stored_unique and run.cpu_seconds:
        shares = "  ".join(
            f"{role} {seconds * 1000 / run.stored_unique:.2f}"
            for role, seconds in sorted(run.cpu_seconds.items(), key=lambda kv: -kv[1])
        )
        total = sum(run.cpu_seconds.values()) * 1000 / run.stored_unique
        print(f"       CPU ms per message: {shares}  (all {total:.2f})")
    return rate, pct(lag, 0.99), exact


async def list_bench(stack: Stack, base_url: str, requests: int) -> dict[str, float]:
    """A tenant with 10,000 conversations and 200,000 messages; GET p50 per query."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
        registered = await api.post(
            "/v1/auth/register",
            json={
                "name": "Big",
                "email": f"bench-big-{time.time_ns()}@example.com",
                "password": PASSWORD,
                "password_confirmation": PASSWORD,
                "company_name": "Big Inbox",
                "country_code": "BR",
                "timezone": "America/Sao_Paulo",
            },
        )
        data = registered.json()["data"]
    tenant, token = int(data["tenant"]["id"]), data["token"]
    started = time.perf_counter()
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(
            "INSERT INTO inbox.contacts (tenant_id, phone, name, created_at, updated_at)"
            " SELECT $1, '55219' || lpad(g::text, 8, '0'), 'Cliente ' || g, now(), now()"
            " FROM generate_series(1, 10000) g",
            tenant,
        )
        await conn.execute(
            "INSERT INTO inbox.conversations (tenant_id, contact_id, contact_phone, contact_name,"
            " last_message_text, last_message_direction, last_activity_at, created_at, updated_at)"
            " SELECT $1, id, phone, name, 'última mensagem', 'inbound',"
            " now() - (id % 100000) * interval '1 minute', now(), now()"
            " FROM inbox.contacts WHERE tenant_id = $1",
            tenant,
        )
        await conn.execute(
            "INSERT INTO inbox.messages (tenant_id, conversation_id, whatsapp_message_id,"
            " direction, type, body, sender_kind, status, attempts, sent_at, created_at,"
            " updated_at) SELECT $1, c.id, 'W' || c.id || '-' || k, 'inbound', 'text',"
            " 'mensagem ' || k || ' sobre o pedido ' || c.id, 'customer', 'received', 0,"
            " c.last_activity_at - k * interval '1 second', now(), now()"
            " FROM inbox.conversations c, generate_series(1, 20) k WHERE c.tenant_id = $1",
            tenant,
        )
        await conn.execute("ANALYZE inbox.contacts, inbox.conversations, inbox.messages")
    finally:
        await conn.close()
    print(
        f"\nconversation list: seeded 10,000 conversations and 200,000 messages in"
        f" {time.perf_counter() - started:.1f} s"
    )
    queries = {
        "first page": "/v1/conversations?limit=25",
        "search by phone": "/v1/conversations?search=00005000",
        "search by name": "/v1/conversations?search=Cliente%207321",
    }
    results: dict[str, float] = {}
    for label, path in queries.items():
        client = KeepAliveClient(base_url, path, token)
        for _ in range(5):
            await client.get()
        samples = []
        for _ in range(requests):
            began = time.perf_counter()
            await client.get()
            samples.append((time.perf_counter() - began) * 1000)
        await client.close()
        results[label] = statistics.median(samples)
        print(
            f"  {label:<16} p50 {results[label]:6.1f} ms  p99 {pct(samples, 0.99):6.1f} ms"
            f"  → {'met' if results[label] < 50 else 'NOT met'} (< 50 ms)"
        )
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inbound",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="load per app (default 30)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="seconds of load per app before it is measured, then ANALYZE (default 5)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="callers (default 32)")
    parser.add_argument("--tenants", type=int, default=4, help="tenants (default 4)")
    parser.add_argument("--customers", type=int, default=5000, help="phones (default 5000)")
    parser.add_argument(
        "--repeat-share",
        type=float,
        default=0.05,
        help="share of deliveries that repeat an earlier one (default 0.05)",
    )
    parser.add_argument(
        "--list-requests",
        type=int,
        default=50,
        help="requests per conversation-list query (default 50)",
    )
    parser.add_argument("--skip-list", action="store_true", help="no conversation-list part")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample every server process with py-spy during both runs (needs ptrace)",
    )
    parser.add_argument("--profile-top", type=int, default=15, help="lines per list (default 15)")
    parser.add_argument(
        "--profile-keep", type=Path, default=None, help="keep the collapsed stacks in this folder"
    )
    return parser.parse_args(argv)


def warm_up(
    base_url: str,
    targets: list[Target],
    subject: str,
    stack: Stack,
    tables: str,
    args: argparse.Namespace,
) -> None:
    """`--warmup` seconds of the same load (message ids of their own), then ANALYZE `tables`."""

    async def run() -> None:
        if args.warmup > 0:
            await drive(
                Run("warm-up"),
                base_url,
                targets,
                subject,
                stack.nats_url,
                args,
                seconds=args.warmup,
                id_prefix="W",
            )
        conn = await asyncpg.connect(stack.database_url)
        try:
            await conn.execute(f"ANALYZE {tables}")
        finally:
            await conn.close()

    uvloop.run(run())


def measured(
    run: Run,
    pids: dict[str, int],
    load: Coroutine[Any, Any, None],
    database_url: str,
    args: argparse.Namespace,
    profiles: list[tuple[str, list[profiling.Profile]]],
) -> None:
    """Runs `load`, counting the CPU each process spent meanwhile (the servers, NATS, the
    database's backends and this client); with --profile, py-spy samples the Python servers
    in `pids` for as long as the load lasts."""

    async def metered() -> None:
        database = await asyncpg.connect(database_url)
        try:
            meter = CpuMeter({**pids, "client": os.getpid()}, database)
            before = await meter.read()
            if args.profile:
                python = {role: pid for role, pid in pids.items() if role != "nats"}

                async def run_load() -> None:
                    await load

                found = await profiling.record(
                    python, args.seconds, run_load, args.profile_keep, run.label
                )
                profiles.append((run.label, found))
            else:
                await load
            run.cpu_seconds = CpuMeter.spent(before, await meter.read())
        finally:
            await database.close()

    uvloop.run(metered())


def server_pids(stack: Stack) -> dict[str, int]:
    pids = {}
    for name in ("gateway", "inbox"):
        popen = stack.processes[name].popen
        if popen is not None:
            pids[name] = popen.pid
    return {**pids, **nats_pid(stack)}


def nats_pid(stack: Stack) -> dict[str, int]:
    process = stack.nats_process
    if process is not None and process.popen is not None:
        return {"nats": process.popen.pid}
    return {}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stack = Stack.for_tests(ADMIN_URL, services=("identity", "inbox"), extra_env=dict(STACK_ENV))
    floor: multiprocessing.Process | None = None
    began = time.monotonic()
    try:
        stack.start()
        base_url = stack.start_gateway()
        targets = setup_mesh(stack, base_url, args.tenants)
        print(f"(database {stack.database_url.rsplit('/', 1)[-1]})", flush=True)
        print(
            f"inbound bench: {args.tenants} tenants, {args.customers} customers,"
            f" {args.concurrency} callers, {args.seconds:.0f} s per app,"
            f" {args.repeat_share:.0%} repeated deliveries"
        )
        profiles: list[tuple[str, list[profiling.Profile]]] = []
        mesh_tables = "inbox.contacts, inbox.conversations, inbox.messages, inbox.outbox"
        warm_up(base_url, targets, "inbox.message.inbound", stack, mesh_tables, args)
        mesh = Run("mesh")
        measured(
            mesh,
            server_pids(stack),
            drive(mesh, base_url, targets, "inbox.message.inbound", stack.nats_url, args),
            stack.database_url,
            args,
            profiles,
        )
        mesh.stored_rows, mesh.stored_unique = uvloop.run(
            count_stored(
                stack.database_url,
                "SELECT count(*) AS rows, count(DISTINCT whatsapp_message_id) AS uniq"
                " FROM inbox.messages WHERE whatsapp_message_id = ANY($1)",
                list(mesh.sent_at),
            )
        )
        uvloop.run(
            prepare_floor(
                stack.database_url,
                [(t.instance, t.tenant_id, i + 1, t.secret) for i, t in enumerate(targets)],
            )
        )
        port = free_port()
        floor = multiprocessing.Process(
            target=serve_floor, args=(port, stack.database_url, stack.nats_url), daemon=True
        )
        floor.start()
        floor_url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.post(f"{floor_url}/x", content=b"{}").status_code == 401, "floor")
        floor_targets = [
            Target(t.instance, t.secret, t.tenant_id, f"/webhook/{t.instance}") for t in targets
        ]
        floor_tables = ", ".join(
            f"bench_floor.{t}" for t in ("contacts", "conversations", "messages", "outbox")
        )
        warm_up(floor_url, floor_targets, FLOOR_SUBJECT, stack, floor_tables, args)
        lean = Run("floor")
        measured(
            lean,
            {**({"floor": floor.pid} if floor.pid else {}), **nats_pid(stack)},
            drive(lean, floor_url, floor_targets, FLOOR_SUBJECT, stack.nats_url, args),
            stack.database_url,
            args,
            profiles,
        )
        lean.stored_rows, lean.stored_unique = uvloop.run(
            count_stored(
                stack.database_url,
                "SELECT count(*) AS rows, count(DISTINCT wa_id) AS uniq FROM bench_floor.messages"
                " WHERE wa_id = ANY($1)",
                list(lean.sent_at),
            )
        )
        print()
        mesh_rate, mesh_p99, mesh_exact = report(mesh)
        floor_rate, _, _ = report(lean)
        ratio = mesh_rate / floor_rate if floor_rate else 0.0
        http_p99 = pct(mesh.http_ms, 0.99)
        met = ratio >= 0.3 and mesh_rate >= 300 and http_p99 < 250 and mesh_exact
        print(
            f"\nmesh/floor throughput {ratio:.2f}× (target ≥ 0.30× and ≥ 300 msg/s),"
            f" webhook p99 {http_p99:.0f} ms (target < 250 ms), receipt→event p99"
            f" {mesh_p99:.0f} ms, 0 lost/0 duplicated: {'yes' if mesh_exact else 'NO'}"
            f" → {'met' if met else 'NOT met'}"
        )
        for label, found in profiles:
            profiling.report(f"profile of {label}", found, args.profile_top)
        if not args.skip_list:
            uvloop.run(list_bench(stack, base_url, args.list_requests))
    finally:
        if floor is not None:
            floor.kill()
        stack.stop()
    print(f"\n(the inbound bench took {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
