"""The grpc.aio bootstrap every service shares: settings, database, NATS, outbox relay,
consumers, health, interceptors, and a graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from sqlalchemy import text

from plixa.common.v1 import health_pb2, health_pb2_grpc
from services.kit.clock import Clock, SystemClock
from services.kit.config import ServiceSettings, internal_secret, setting
from services.kit.consumer import EventConsumer, Subscription
from services.kit.db import Database, create_engine
from services.kit.interceptors import standard_interceptors
from services.kit.logs import configure_logging
from services.kit.messaging import NatsLink
from services.kit.outbox import OutboxRelay

log = logging.getLogger("plixa.server")


@dataclass
class ServiceContext:
    """What a service's servicers, consumers and jobs are built from."""

    settings: ServiceSettings
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


Register = Callable[[grpc.aio.Server, ServiceContext], None]
Jobs = Callable[[ServiceContext], Sequence[Coroutine[Any, Any, None]]]
Subscriptions = Callable[[ServiceContext], Sequence[Subscription]]


@dataclass
class ServiceApp:
    name: str
    register: Register
    subscriptions: Subscriptions = field(default=lambda ctx: ())
    jobs: Jobs = field(default=lambda ctx: ())

    def main(self) -> None:
        configure_logging(self.name, setting("PLIXA_LOG_LEVEL", "INFO"))
        try:
            import uvloop

            uvloop.run(self.run())
        except ImportError:  # uvloop comes with uvicorn[standard]; plain asyncio works too
            asyncio.run(self.run())

    async def run(self) -> None:
        settings = ServiceSettings.load(self.name)
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
            interceptors=standard_interceptors(internal_secret()), options=limits
        )
        health = HealthServicer(db)
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        self.register(server, ctx)
        address = f"{settings.grpc_host}:{settings.grpc_port}"
        server.add_insecure_port(address)
        await server.start()

        background = [OutboxRelay(db.engine, self.name, nats, clock).run()]
        background += [EventConsumer(db, nats, s).run() for s in self.subscriptions(ctx)]
        background += list(self.jobs(ctx))
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
