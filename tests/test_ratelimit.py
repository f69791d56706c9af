"""The shared rate limit under a concurrent burst, on a real NATS JetStream: two replicas hammered
at once allow exactly the limit, whatever the interleaving of their compare-and-sets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.config import Limit
from gateway.ratelimit import RateLimiter
from scripts.mesh import Stack
from services.kit.messaging import NatsLink
from tests.conftest import ADMIN_URL


@pytest.fixture(scope="module")
def nats_url() -> Iterator[str]:
    stack = Stack.for_tests(ADMIN_URL, services=())
    stack.start_nats()
    yield stack.nats_url
    stack.stop_nats()


@pytest.fixture
async def links(nats_url: str) -> AsyncIterator[list[NatsLink]]:
    links = [NatsLink(nats_url, f"limiter-{n}") for n in range(2)]
    for link in links:
        link.start()
        await link.ready()
    yield links
    for link in links:
        await link.close()


@pytest.mark.parametrize("budget", [7, 150])
async def test_a_burst_on_two_replicas_allows_exactly_the_limit(
    links: list[NatsLink], budget: int
) -> None:
    limits = {"default": Limit(budget, 3600)}
    replicas = [RateLimiter(link, limits) for link in links]
    subject = f"burst{budget}"
    decisions = await asyncio.gather(
        *(replicas[n % 2].hit("default", subject) for n in range(budget * 2 + 20))
    )
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == budget
    assert all(d.remaining >= 0 for d in decisions)
    # Later requests of the window are refused by both replicas.
    for replica in replicas:
        assert not (await replica.hit("default", subject)).allowed
