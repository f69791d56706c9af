"""A small private stack for testing backoffice's senders (the campaign sender, support notices)
against our real notifications service: notifications as a process, its email provider fake
(Resend's wire format, the Stack's `email`) and a web push service fake. The senders themselves
run in the test's process on backoffice's schema of the stack's database, as the backoffice
process runs them, and reach notifications over gRPC through the real NotificationsClient."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from scripts.mesh import Stack
from services.backoffice.clients.notifications import NotificationsClient
from services.kit.clock import SystemClock
from services.kit.config import internal_secret
from services.kit.db import Database, create_engine
from tests.conftest import ADMIN_URL
from tests.fakes.email_provider import EmailProvider
from tests.fakes.push_service import PushService
from tests.waiting import eventually

T = TypeVar("T")


@dataclass
class Mesh:
    stack: Stack
    email: EmailProvider
    push: PushService

    def stop_notifications(self) -> None:
        """Notifications goes away (its process is stopped, its port answers nothing)."""
        self.stack.stop_process("notifications")

    def start_notifications(self) -> None:
        """Notifications is back on the same port, serving."""
        self.stack.start_service("notifications")

    def emails_keyed(self, prefix: str) -> list[dict[str, Any]]:
        """What the email provider received with an Idempotency-Key starting with `prefix`
        (notifications prefixes other services' keys with `ext:`)."""
        return [m for m in self.email.emails() if (m["idempotency_key"] or "").startswith(prefix)]


@contextmanager
def notifications_mesh() -> Iterator[Mesh]:
    """Notifications alone (plus NATS and the database), its fakes, and this process pointed at
    it: NotificationsClient finds notifications through PLIXA_NOTIFICATIONS_ADDR, as the
    backoffice process does."""
    push = PushService().start()
    env = {
        "PLIXA_LOG_LEVEL": "INFO",
        "PLIXA_WEBHOOK_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",  # the push fake listens locally
    }
    stack = Stack.for_tests(ADMIN_URL, services=("notifications",), extra_env=env)
    try:
        with pytest.MonkeyPatch.context() as patch:
            stack.start()
            assert stack.email is not None  # a private stack starts the email provider fake
            patch.setenv("PLIXA_NOTIFICATIONS_ADDR", f"127.0.0.1:{stack.ports['notifications']}")
            yield Mesh(stack, stack.email, push)
    finally:
        stack.stop()
        push.stop()


def run(mesh: Mesh, scenario: Callable[[Database, NotificationsClient], Awaitable[T]]) -> T:
    """Runs `scenario` with backoffice's database and a NotificationsClient, both closed after."""

    async def main() -> T:
        db = backoffice_database(mesh)
        notifications = NotificationsClient(internal_secret())
        try:
            return await scenario(db, notifications)
        finally:
            await notifications.client.close()
            await db.dispose()

    return asyncio.run(main())


def backoffice_database(mesh: Mesh, pool_size: int = 4) -> Database:
    engine = create_engine(mesh.stack.database_url, "backoffice", pool_size=pool_size)
    return Database(engine, "backoffice", SystemClock(), audits_impersonation=False)


async def queued_at_notifications(db: Database, key_prefix: str) -> dict[str, str]:
    """Notifications' own emails (key → status) whose key starts with `key_prefix`: what it
    accepted, whether or not the provider has it yet."""
    query = text(
        "SELECT idempotency_key, status FROM notifications.emails"
        " WHERE starts_with(idempotency_key, :prefix)"
    )
    async with db.engine.connect() as conn:
        rows = await conn.execute(query, {"prefix": key_prefix})
        return {str(key): str(status) for key, status in rows}


async def delivered(mesh: Mesh, db: Database, key_prefix: str, count: int) -> list[dict[str, Any]]:
    """The emails the provider received under `key_prefix`, once notifications holds at least
    `count` of them and none is still on its way (more than `count` shows up in the caller's
    assertion, not as a timeout here)."""

    async def settled() -> bool:
        found = await queued_at_notifications(db, key_prefix)
        return len(found) >= count and "queued" not in found.values()

    await eventually(settled, f"{count} emails under {key_prefix} out of notifications")
    return mesh.emails_keyed(key_prefix)
