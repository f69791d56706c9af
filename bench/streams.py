"""What open event streams cost the gateway: opens `--streams` GET /v1/events (server-sent
events) at once and reads the gateway's and notifications' resident memory before and after.
Target (issue 10): 1,000 open streams cost the gateway at most 200 MB."""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from pathlib import Path

import httpx

from scripts.mesh import Stack
from tests.conftest import ADMIN_URL, TEST_ENV, register


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def open_streams(port: int, token: str, count: int) -> list[asyncio.StreamWriter]:
    request = (
        f"GET /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n"
        "accept: text/event-stream\r\n\r\n"
    ).encode()
    writers: list[asyncio.StreamWriter] = []
    opened = 0

    async def one() -> None:
        nonlocal opened
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " in head.split(b"\r\n", 1)[0]:
            opened += 1
        writers.append(writer)

    for start in range(0, count, 100):
        await asyncio.gather(*(one() for _ in range(min(100, count - start))))
    print(f"{opened}/{count} streams open")
    return writers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    env = {**TEST_ENV, "PLIXA_LOG_LEVEL": "WARNING", "PLIXA_RATE_LIMITS": "default=100000/60"}
    stack = Stack.for_tests(ADMIN_URL, services=("identity", "notifications"), extra_env=env)
    try:
        stack.start()
        url = stack.start_gateway()
        with httpx.Client(base_url=url, timeout=20) as api:
            token = register(api)["token"]
            api.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        gateway = stack.processes["gateway"].pid
        service = stack.processes["notifications"].pid
        time.sleep(1)
        before = (rss_mb(gateway), rss_mb(service))

        async def run() -> None:
            writers = await open_streams(int(url.rsplit(":", 1)[1]), token, args.streams)
            await asyncio.sleep(3)
            after = (rss_mb(gateway), rss_mb(service))
            cost = after[0] - before[0]
            print(
                f"gateway RSS {before[0]:.0f} → {after[0]:.0f} MB (+{cost:.0f} MB for "
                f"{args.streams} streams); notifications {before[1]:.0f} → {after[1]:.0f} MB"
            )
            scaled = cost * 1000 / max(args.streams, 1)
            print(f"target ≤ 200 MB per 1,000 streams: {'met' if scaled <= 200 else 'NOT met'}")
            for writer in writers:
                writer.close()

        asyncio.run(run())
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
