"""Usage is decoration: when identity or inbox cannot be reached, their figures are absent (null
in the JSON) and the subscription is answered all the same, within the client's timeout."""

from __future__ import annotations

import asyncio
import socket
import time

from services.billing.clients.usage import UsageClient


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_services_that_are_away_leave_usage_empty() -> None:
    port = closed_port()
    client = UsageClient(b"x" * 32, timeout=0.5)
    client.client.address_of = lambda service: f"127.0.0.1:{port}"
    started = time.monotonic()
    usage = asyncio.run(client.usage(42))
    assert time.monotonic() - started < 3
    for field in ("members", "whatsapp_numbers", "conversations_this_month"):
        assert not usage.HasField(field)
    assert not usage.HasField("messages_this_month")
