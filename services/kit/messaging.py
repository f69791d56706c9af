"""One NATS connection per process that survives NATS being down at start or later."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

log = logging.getLogger("plixa.messaging")


class NatsLink:
    """Connects in the background and keeps reconnecting; users await `ready()`."""

    def __init__(
        self, url: str, name: str, user: str | None = None, password: str | None = None
    ) -> None:
        """`user`/`password`: the process's own NATS user (services/kit/nats_auth.py); None
        connects with what the URL holds, if anything."""
        self.url = url
        self.name = name
        self.user = user
        self.password = password
        self.client: Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Called after a reconnect: state derived from core subscriptions may have missed messages.
        self.reconnect_hooks: list[Callable[[], None]] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_until_up(), name=f"nats-connect-{self.name}")

    async def _connect_until_up(self) -> None:
        delay = 0.2
        while True:
            try:
                self.client = await nats.connect(
                    self.url,
                    name=self.name,
                    user=self.user,
                    password=self.password,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    drain_timeout=5,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                self._connected.set()
                log.info("connected to NATS", extra={"nats_url": self.url})
                return
            except Exception as exc:  # NATS down at start: keep trying, the service still serves
                log.warning("NATS not reachable yet: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    async def _on_disconnected(self) -> None:
        log.warning("NATS disconnected")

    async def _on_reconnected(self) -> None:
        log.info("NATS reconnected")
        for hook in self.reconnect_hooks:
            hook()

    async def ready(self) -> Client:
        await self._connected.wait()
        assert self.client is not None
        return self.client

    async def jetstream(self) -> JetStreamContext:
        return (await self.ready()).jetstream()

    async def close(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()
        if self.client is not None and not self.client.is_closed:
            try:
                await self.client.drain()
            except Exception as exc:  # already gone: nothing left to drain
                log.info("NATS drain skipped: %s", exc)


def stream_name(service: str) -> str:
    return f"PLIXA_{service.upper()}"


async def ensure_stream(js: JetStreamContext, service: str) -> None:
    """Each service publishes on `<service>.>` into its own stream."""
    name = stream_name(service)
    config = StreamConfig(name=name, subjects=[f"{service}.>"], duplicate_window=120)
    try:
        await js.stream_info(name)
    except NotFoundError:
        with contextlib.suppress(BadRequestError):  # created by another replica meanwhile
            await js.add_stream(config)
