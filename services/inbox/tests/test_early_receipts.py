"""Receipts kept for a WhatsApp id not stored yet, against a real PostgreSQL: kept once per
status, claimed in rank order by the send that stores the id, and purged when nobody claims them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from services.inbox.store import messaging as store
from services.kit.clock import SystemClock
from services.kit.db import Database, create_engine
from services.kit.migrations import migrate_service
from services.kit.principal import ANONYMOUS
from tests.databases import scratch_database


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with scratch_database("plixa_inbox") as url:
        asyncio.run(migrate_service("inbox", url))
        yield url


def test_early_receipts_are_kept_claimed_in_order_and_purged(database_url: str) -> None:
    async def scenario() -> None:
        db = Database(create_engine(database_url, "inbox", pool_size=2), "inbox", SystemClock())
        now = datetime.now(UTC)
        try:
            async with db.unit_of_work(ANONYMOUS) as uow:
                for status in ("read", "delivered", "read", "sent"):
                    await store.keep_early_receipt(uow, 1, "WA-1", status, now)
                await store.keep_early_receipt(uow, 2, "WA-1", "read", now)  # another tenant
                await store.keep_early_receipt(uow, 1, "WA-old", "read", now - timedelta(days=2))
            async with db.unit_of_work(ANONYMOUS) as uow:
                await store.lock_whatsapp_id(uow, 1, "WA-1")
                assert await store.take_early_receipts(uow, 1, "WA-1") == [
                    "sent",
                    "delivered",
                    "read",
                ]
                assert await store.take_early_receipts(uow, 1, "WA-1") == []
                assert await store.purge_early_receipts(uow, now - timedelta(days=1)) == 1
            async with db.unit_of_work(ANONYMOUS) as uow:
                assert await store.take_early_receipts(uow, 1, "WA-old") == []
                assert await store.take_early_receipts(uow, 2, "WA-1") == ["read"]
        finally:
            await db.dispose()

    asyncio.run(scenario())
