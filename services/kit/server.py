"""The grpc.aio bootstrap every service shares: settings, database, NATS, outbox relay,
consumers, periodic jobs, health, interceptors, and a graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import grpc
from sqlalchemy import text

from plixa.common.v1 import health_pb2, health_pb2_grpc
from services.kit.clock import Clock, SystemClock
from services.kit.config import ServiceSettings, load_or_exit, setting
from services.kit.consumer import EventConsumer, Subscription
from services.kit.db import Database, create_engine
from services.kit.interceptors import standard_interceptors
from services.kit.jobs import PeriodicJob, run_periodically
from services.kit.logs import configure_logging
from services.kit.messaging import NatsLink
from services.kit.outbox import OutboxRelay

log = logging.getLogger("plixa.server")

S = TypeVar("S", bound=ServiceSettings)


@dataclass
class ServiceContext(Generic[S]):
    """What a service's servicers, consumers and jobs are built from; `settings` is the
    service's own settings class, loaded and validated once at start."""

    settings: S
    db: Database
    nats: NatsLink
    clock: Clock


class HealthServicer(health_pb2_grpc.HealthServicer):
    """SERVING once started and while the database answers; NOT_SERVING while draining."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.serving = False

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        status = health_pb2.HealthCheckResponse.NOT_SERVING
        if self.serving:
            try:
                async with asyncio.timeout(1.0), self.db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                status = health_pb2.HealthCheckResponse.SERVING
            except Exception as exc:
                log.warning("health: database unreachable: %s", exc)
        return health_pb2.HealthCheckResponse(status=status)


Register = Callable[[grpc.aio.Server, ServiceContext[S]], None]
Jobs = Callable[[ServiceContext[S]], Sequence[PeriodicJob]]
Subscriptions = Callable[[ServiceContext[S]], Sequence[Subscription]]


@dataclass
class ServiceApp(Generic[S]):
    """One service process: `ServiceApp("identity", settings=IdentitySettings, register=...,
    subscriptions=lambda ctx: [...], jobs=lambda ctx: [PeriodicJob(...), ...]).main()`."""

    name: str
    settings: type[S]
    register: Register[S]
    subscriptions: Subscriptions[S] = field(default=lambda ctx: ())
    jobs: Jobs[S] = field(default=lambda ctx: ())

    def main(self) -> None:
        """Configures logging, loads the settings (or refuses to start), and serves until
        SIGTERM/SIGINT."""
        configure_logging(self.name, setting("PLIXA_LOG_LEVEL", "INFO"))
        settings = load_or_exit(lambda: self.settings.load(self.name), self.name)
        try:
            import uvloop

            uvloop.run(self.run(settings))
        except ImportError:  # uvloop comes with uvicorn[standard]; plain asyncio works too
            asyncio.run(self.run(settings))

    async def run(self, settings: S) -> None:
        clock = SystemClock()
        db = Database(create_engine(settings.database_url, self.name), self.name, clock)
        nats = NatsLink(settings.nats_url, f"plixa-{self.name}")
        nats.start()
        ctx = ServiceContext(settings, db, nats, clock)

        limits = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
        ]
        server = grpc.aio.server(
            interceptors=standard_interceptors(settings.internal_secret), options=limits
        )
        health = HealthServicer(db)
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        self.register(server, ctx)
        address = f"{settings.grpc_host}:{settings.grpc_port}"
        server.add_insecure_port(address)
        await server.start()

        background = [OutboxRelay(db.engine, self.name, nats, clock).run()]
        background += [EventConsumer(db, nats, s).run() for s in self.subscriptions(ctx)]
        background += [run_periodically(job, db.engine, self.name) for job in self.jobs(ctx)]
        tasks = [asyncio.create_task(coro) for coro in background]
        health.serving = True
        log.info("serving", extra={"address": address})

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

        log.info("stopping: draining calls")
        health.serving = False
        await server.stop(settings.shutdown_grace_seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await nats.close()
        await db.dispose()
        log.info("stopped")
