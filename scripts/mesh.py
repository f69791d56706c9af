"""Starts, supervises and stops the whole system as separate processes: the local run and the
end-to-end tests use this same code, so the tests exercise what `make run` starts.

A supervised stack restarts a process that exits on its own, with backoff; only `Stack.stop()`
(Ctrl-C for `make run`) stops everything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
import httpx

from plixa.common.v1 import health_pb2, health_pb2_grpc
from services.kit.config import SERVICE_PORTS, SERVICES
from services.kit.migrations import migrate_all
from services.kit.nats_auth import PROCESSES, server_config
from tests.fakes.email_provider import EmailProvider
from tests.fakes.evolution import EvolutionFake
from tests.fakes.stripe import StripeFake

ROOT = Path(__file__).resolve().parent.parent
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"

log = logging.getLogger("plixa.mesh")


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, for a process to bind soon after. Taken below the kernel's
    ephemeral range (32768 and up), where the operating system also picks the local ports of
    outgoing connections (to PostgreSQL, NATS, …): a port from that range may be taken by one of
    those before our process binds it. Never the same port twice in this process."""
    for _ in range(1000):
        port = random.randrange(20000, 32700)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port between 20000 and 32700")


SERVICE_START_SECONDS = 90.0
TEST_POOL_SIZE = "4"  # connections per service process in a test stack


def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")


def grpc_serving(address: str, env: dict[str, str] | None = None) -> bool:
    """Whether the service answers SERVING; over mutual TLS when the process's `env` sets
    PLIXA_GRPC_TLS_DIR (services/kit/tls.py)."""
    folder = (env or {}).get("PLIXA_GRPC_TLS_DIR")
    if folder:
        read = Path(folder).joinpath
        credentials = grpc.ssl_channel_credentials(
            read("ca.crt").read_bytes(), read("tls.key").read_bytes(), read("tls.crt").read_bytes()
        )
        channel = grpc.secure_channel(address, credentials)
    else:
        channel = grpc.insecure_channel(address)
    with channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=1.0
        )
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # time.monotonic() of the last start
    ready_after: float = 0.0  # seconds its first start took to serve (the host's pace)
    restarts: int = 0
    restart_delay: float | None = None  # the last backoff; None until it first exits
    restart_at: float | None = None  # when a supervisor starts it again

    def start(self) -> None:
        output = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args, env=self.env, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT
        )
        output.close()
        self.started_at = time.monotonic()

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class Backoff:
    """How long a supervisor waits before restarting a process that exited: `first`, doubling on
    each quick exit up to `longest`, and `first` again once the process had stayed up `settled`."""

    first: float = 0.5
    longest: float = 10.0
    settled: float = 30.0

    def delay(self, previous: float | None, uptime: float) -> float:
        if previous is None or uptime >= self.settled:
            return self.first
        return min(previous * 2, self.longest)


class Supervisor:
    """Watches a stack's processes from a thread and restarts any that exits on its own.

    Processes the stack stops on purpose (`Stack.stop_process`, `Stack.stop`) leave its table
    first, so they stay stopped."""

    def __init__(self, stack: Stack, backoff: Backoff = Backoff(), poll_seconds: float = 0.1):
        self.stack = stack
        self.backoff = backoff
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop_restarting(self) -> None:
        """Safe from a signal handler: nothing is started again after this."""
        self._stopping.set()

    def stop(self) -> None:
        self.stop_restarting()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_seconds):
            with self.stack.lock:
                if self._stopping.is_set():
                    return
                for process in list(self.stack.processes.values()):
                    self.check(process, time.monotonic())

    def check(self, process: Process, now: float) -> None:
        if process.running:
            return
        if process.restart_at is None:
            uptime = now - process.started_at
            process.restart_delay = self.backoff.delay(process.restart_delay, uptime)
            process.restart_at = now + process.restart_delay
            code = process.popen.returncode if process.popen is not None else None
            log.warning(
                "%s exited (%s) after %.1fs up; restarting in %.1fs%s",
                process.name,
                f"signal {-code}" if code is not None and code < 0 else f"code {code}",
                uptime,
                process.restart_delay,
                f"; its log ends:\n{process.log_tail(10)}" if code and code > 0 else "",
            )
        elif now >= process.restart_at:
            process.restart_at = None
            process.restarts += 1
            process.start()
            log.warning(
                "%s restarted (pid %s, restart #%d)", process.name, process.pid, process.restarts
            )


@dataclass
class Stack:
    """One deployment of Plixa: a database, NATS, services and gateways.

    `private=True` (tests) makes a fresh database and a private NATS with its own JetStream
    store on free ports; otherwise (local run) the given database and NATS are used as they are."""

    database_url: str
    nats_url: str = "nats://127.0.0.1:4222"
    services: tuple[str, ...] = SERVICES
    private: bool = False
    fixed_ports: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="plixa-")))
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    nats_process: Process | None = None
    nats_port: int = 0
    # The private NATS's per-process passwords (services/kit/nats_auth.py); empty: none sent
    # beyond the development default, which a NATS without authentication ignores.
    nats_passwords: dict[str, str] = field(default_factory=dict)
    storage_dir: Path | None = None  # uploaded files; a volume in Kubernetes
    supervisor: Supervisor | None = None
    # The local Evolution API fake (tests/fakes/evolution.py), started when PLIXA_EVOLUTION_URL
    # is not configured; its webhook events go to the first gateway.
    evolution: EvolutionFake | None = None
    # The local Stripe fake (tests/fakes/stripe.py), started when neither PLIXA_STRIPE_SECRET_KEY
    # nor PLIXA_STRIPE_API_BASE is configured; its webhook events go to the first gateway.
    stripe: StripeFake | None = None
    # The local email provider fake (tests/fakes/email_provider.py, Resend's API), started for a
    # private (test) stack when PLIXA_EMAIL_API_URL is not configured.
    email: EmailProvider | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def for_tests(
        cls, admin_url: str, *, extra_env: dict[str, str] | None = None, **kwargs: Any
    ) -> Stack:
        base, _, _ = admin_url.rpartition("/")
        name = f"plixa_test_{uuid.uuid4().hex[:10]}"
        # Several test stacks may be up at once, and PostgreSQL allows 100 connections in all.
        env = {"PLIXA_DB_POOL_SIZE": TEST_POOL_SIZE, **(extra_env or {})}
        return cls(database_url=f"{base}/{name}", private=True, extra_env=env, **kwargs)

    # ── infrastructure ────────────────────────────────────────────────────────────────────

    def start_nats(self) -> None:
        """A private nats-server with JetStream and one user per process, allowed only its own
        subjects; `nats_url` carries the unrestricted `operator` login the tests use."""
        if not self.nats_port:
            self.nats_port = free_port()
        if not self.nats_passwords:
            self.nats_passwords = {p: secrets.token_hex(16) for p in (*PROCESSES, "operator")}
        operator = self.nats_passwords["operator"]
        self.nats_url = f"nats://operator:{operator}@127.0.0.1:{self.nats_port}"
        store = self.workdir / "jetstream"
        store.mkdir(exist_ok=True)
        config = self.workdir / "nats.conf"
        config.write_text(
            server_config(
                {p: self.nats_passwords[p] for p in PROCESSES},
                f"127.0.0.1:{self.nats_port}",
                str(store),
                operator,
            )
        )
        self.nats_process = Process(
            "nats", [NATS_SERVER, "-c", str(config)], dict(os.environ), self.workdir / "nats.log"
        )
        self.nats_process.start()
        wait_for(lambda: _accepts(self.nats_port), "NATS")

    def stop_nats(self) -> None:
        if self.nats_process is not None:
            self.nats_process.stop()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PLIXA_DATABASE_URL=self.database_url,
            PLIXA_NATS_URL=without_credentials(self.nats_url),
            PLIXA_STORAGE_DIR=str(self.storage_dir or self.workdir / "storage"),
            PYTHONUNBUFFERED="1",
        )
        for service in SERVICES:
            port = self.ports.setdefault(
                service, SERVICE_PORTS[service] if self.fixed_ports else free_port()
            )
            env[f"PLIXA_{service.upper()}_PORT"] = str(port)
            env[f"PLIXA_{service.upper()}_ADDR"] = f"127.0.0.1:{port}"
        env.update(self.extra_env)
        env.update(self.evolution_env(env))
        env.update(self.stripe_env(env))
        env.update(self.email_env(env))
        return env

    def email_env(self, env: dict[str, str]) -> dict[str, str]:
        """Notifications' PLIXA_EMAIL_API_URL/_KEY at the local fake, for a private stack only and
        unless an email provider is configured."""
        if not self.private or env.get("PLIXA_EMAIL_API_URL"):
            return {}
        with self.lock:
            if self.email is None:
                self.email = EmailProvider(
                    api_key=env.get("PLIXA_EMAIL_API_KEY") or "re_local_development"
                ).start()
        return {"PLIXA_EMAIL_API_URL": self.email.url, "PLIXA_EMAIL_API_KEY": self.email.api_key}

    def stripe_env(self, env: dict[str, str]) -> dict[str, str]:
        """Billing's Stripe settings pointing at the local fake, unless Stripe is configured."""
        if env.get("PLIXA_STRIPE_SECRET_KEY") or env.get("PLIXA_STRIPE_API_BASE"):
            return {}
        with self.lock:
            if self.stripe is None:
                secret = env.get("PLIXA_STRIPE_WEBHOOK_SECRET") or f"whsec_{secrets.token_hex(16)}"
                self.stripe = StripeFake(webhook_secret=secret).start()
        return {
            "PLIXA_STRIPE_API_BASE": self.stripe.url,
            "PLIXA_STRIPE_WEBHOOK_SECRET": self.stripe.webhook_secret,
        }

    def evolution_env(self, env: dict[str, str]) -> dict[str, str]:
        """PLIXA_EVOLUTION_URL/_API_KEY of the local fake, unless a real Evolution is configured."""
        if env.get("PLIXA_EVOLUTION_URL"):
            return {}
        with self.lock:
            if self.evolution is None:
                self.evolution = EvolutionFake().start()
        return {
            "PLIXA_EVOLUTION_URL": self.evolution.url,
            "PLIXA_EVOLUTION_API_KEY": self.evolution.global_key,
        }

    def migrate(self) -> None:
        asyncio.run(migrate_all(list(SERVICES), self.database_url))

    # ── processes ─────────────────────────────────────────────────────────────────────────

    def start(self) -> Stack:
        if self.private:
            self.start_nats()
        self.migrate()
        for service in self.services:
            self.start_service(service, wait=False)
        for service in self.services:
            self.wait_service(service)
        return self

    def process_env(self, process: str) -> dict[str, str]:
        """The environment of one process: the shared one plus its own NATS password."""
        env = self.env()
        if process in self.nats_passwords:
            env["PLIXA_NATS_PASSWORD"] = self.nats_passwords[process]
        return env

    def start_service(self, service: str, wait: bool = True) -> None:
        process = Process(
            service,
            [sys.executable, "-m", f"services.{service}"],
            self.process_env(service),
            self.workdir / f"{service}.log",
        )
        with self.lock:  # a supervisor never sees it before it started
            self.processes[service] = process
            process.start()
        if wait:
            self.wait_service(service)

    def wait_service(self, service: str) -> None:
        process = self.processes[service]
        address = f"127.0.0.1:{self.ports[service]}"
        try:
            # Generous: seven services and their imports share two cores while a stack starts.
            wait_for(
                lambda: process.running and grpc_serving(address, process.env),
                service,
                timeout=SERVICE_START_SECONDS,
            )
            process.ready_after = time.monotonic() - process.started_at
        except TimeoutError as exc:
            raise RuntimeError(f"{service} failed to start:\n{process.log_tail()}") from exc

    def start_gateway(
        self, name: str = "gateway", port: int | None = None, env: dict[str, str] | None = None
    ) -> str:
        """Starts a gateway process and returns its base URL. A start that fails on a port
        chosen here (taken meanwhile, on a busy machine) is tried once more on another."""
        chosen = port or (8000 if self.fixed_ports and name == "gateway" else None)
        try:
            url = self._start_gateway(name, chosen or free_port(), env)
        except RuntimeError as error:
            if chosen is not None:
                raise
            log.warning("%s failed to start (%s); trying another port", name, error)
            url = self._start_gateway(name, free_port(), env)
        if self.evolution is not None and self.evolution.deliver_to is None:
            self.evolution.deliver_to = url
        if self.stripe is not None and self.stripe.webhook_url is None:
            self.stripe.webhook_url = f"{url}/v1/webhooks/stripe"
        return url

    def _start_gateway(self, name: str, port: int, env: dict[str, str] | None) -> str:
        process_env = self.process_env("gateway")
        process_env.update(PLIXA_GATEWAY_PORT=str(port), **(env or {}))
        process = Process(
            name, [sys.executable, "-m", "gateway"], process_env, self.workdir / f"{name}.log"
        )
        with self.lock:
            self.processes[name] = process
            process.start()
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            return process.running and httpx.get(f"{url}/healthz", timeout=1).status_code == 200

        try:
            wait_for(healthy, name)
        except TimeoutError as exc:
            process.stop()
            raise RuntimeError(f"{name} failed to start:\n{process.log_tail()}") from exc
        return url

    def supervise(self, backoff: Backoff = Backoff()) -> Supervisor:
        """From now on a process that exits on its own is restarted (see `Supervisor`)."""
        if self.supervisor is None:
            self.supervisor = Supervisor(self, backoff).start()
        return self.supervisor

    def stop_process(self, name: str) -> None:
        with self.lock:
            process = self.processes.pop(name, None)
        if process is not None:
            process.stop()

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()  # first, so nothing stopped below is started again
        for name in [n for n in self.processes if not n.startswith("gateway")] + [
            n for n in self.processes if n.startswith("gateway")
        ][::-1]:
            self.processes[name].stop()
        self.processes.clear()
        self.stop_nats()
        if self.evolution is not None:
            self.evolution.stop()
        if self.stripe is not None:
            self.stripe.stop()
        if self.email is not None:
            self.email.stop()
        if self.private:
            self.drop_database()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def drop_database(self) -> None:
        base, _, name = self.database_url.rpartition("/")
        subprocess.run(
            [sys.executable, "-c", _DROP_DATABASE, f"{base}/postgres", name],
            check=False,
            capture_output=True,
        )


def without_credentials(url: str) -> str:
    """A NATS URL without its user and password (each process logs in as itself)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_DROP_DATABASE = """
import asyncio, sys
import asyncpg
async def main(url, name):
    conn = await asyncpg.connect(url)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()
asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port` (the probe's socket is closed again)."""
    with socket.create_connection(("127.0.0.1", port), 0.2):
        return True
