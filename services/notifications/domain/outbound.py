"""Outbound HTTP to customers' URLs, behind an SSRF guard.

Every URL is checked when an endpoint is saved and again on every attempt: http(s) only (https
only with PLIXA_ENV=production), no credentials in it, and its host is resolved once and every
address it resolves to must be public (not loopback, private, link-local, CGNAT, metadata,
multicast or reserved, in IPv4 or IPv6, IPv4-mapped included). The request then goes to that
resolved address (the Host header and TLS server name stay the URL's host), so a DNS answer
cannot change between the check and the connection. No redirects, a deadline per attempt, and
at most `MAX_READ` bytes of the answer are read.

Deliveries reuse a host's DNS answer for a short while (`ResolverCache`); the addresses are
still checked on every attempt, and the attempt connects to the address it checked.

`allowed_hosts` (a development setting) lists hosts that may resolve to private addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp

MAX_READ = 64 * 1024
LOG_BYTES = 2048
# Ranges `is_global` lets through that still reach inside: NAT64 (embeds IPv4) and 6to4.
EXTRA_BLOCKED = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("2002::/16"),
)


class Blocked(Exception):
    """The URL may not be called; the message says why (shown to the owner)."""


def address_blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast or ip.is_unspecified:
        return True
    return any(ip in net for net in EXTRA_BLOCKED)


@dataclass(frozen=True)
class Target:
    url: str  # the URL with the resolved address in place of the host
    host: str
    sni: str | None


def check_url(url: str, *, production: bool) -> tuple[str, str, int]:
    """Scheme, host and port of an acceptable URL; Blocked otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Blocked("The URL is not valid.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Blocked("The URL must start with https://.")
    if production and scheme != "https":
        raise Blocked("The URL must use https.")
    if parts.username is not None or parts.password is not None:
        raise Blocked("The URL may not carry credentials.")
    host = (parts.hostname or "").lower()
    if not host:
        raise Blocked("The URL has no host.")
    return scheme, host, port or (443 if scheme == "https" else 80)


async def lookup(host: str, port: int) -> list[str]:
    """Every address `host` resolves to; Blocked when it does not resolve."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        raise Blocked(f"The host {host} does not resolve.") from None
    return [str(info[4][0]) for info in infos]


class ResolverCache:
    """Answers of `lookup` kept per (host, port) for `ttl` seconds, so a delivery does not wait
    for the resolver's thread each time. Only the answer is kept, never a verdict: `resolve`
    checks the addresses on every use, and the connection goes to the checked address."""

    def __init__(
        self,
        ttl: float = 30.0,
        size: int = 4096,
        resolver: Callable[[str, int], Awaitable[list[str]]] | None = None,
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.resolver = resolver or lookup  # the system's resolver, or another DNS
        self._answers: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def lookup(self, host: str, port: int) -> list[str]:
        key = (host, port)
        now = time.monotonic()
        kept = self._answers.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        addresses = await self.resolver(host, port)  # a failure is not kept: asked again
        self._answers.pop(key, None)
        while len(self._answers) >= self.size:  # the oldest answers go first
            del self._answers[next(iter(self._answers))]
        self._answers[key] = (now + self.ttl, addresses)
        return addresses


async def resolve(
    url: str,
    *,
    production: bool,
    allowed_hosts: frozenset[str],
    cache: ResolverCache | None = None,
) -> Target:
    """The URL pointed at the one address it is called on; Blocked when it may not be called.
    With `cache`, a recent answer for the host may stand in for asking the resolver; its
    addresses are checked all the same."""
    scheme, host, port = check_url(url, production=production)
    addresses = await (cache.lookup(host, port) if cache else lookup(host, port))
    if not addresses:
        raise Blocked(f"The host {host} does not resolve.")
    if host not in allowed_hosts and any(address_blocked(a) for a in addresses):
        raise Blocked("The URL resolves to a private, loopback or reserved address.")
    address = addresses[0]
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{port}"
    target = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    return Target(target, host_header, host if scheme == "https" else None)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    body: str | None  # the first LOG_BYTES of the answer
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """One shared aiohttp session: keep-alive connections pooled per (resolved address, port,
    TLS server name), no redirects, no cookies kept (a receiver's cookie must never reach
    another), a deadline per attempt, the answer read raw and capped.

    aiohttp rather than httpx here: a delivery is one small POST, and httpx + httpcore cost
    about fifteen times more CPU per request (measured: ~2 ms against ~0.15 ms on this
    machine), which made the client the dispatcher's main cost."""

    def __init__(
        self,
        *,
        production: bool,
        allowed_hosts: frozenset[str],
        timeout: float,
        max_connections: int = 256,
        dns_ttl: float = 30.0,
    ) -> None:
        self.production = production
        self.allowed_hosts = allowed_hosts
        self.timeout = timeout
        self.max_connections = max_connections
        self.resolver = ResolverCache(dns_ttl)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """Made on first use, inside the running loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                auto_decompress=False,
                trust_env=False,
            )
        return self._session

    async def check(self, url: str) -> None:
        await resolve(url, production=self.production, allowed_hosts=self.allowed_hosts)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        started = time.perf_counter()

        def took() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            async with asyncio.timeout(self.timeout):  # a slow DNS answer counts too
                target = await resolve(
                    url,
                    production=self.production,
                    allowed_hosts=self.allowed_hosts,
                    cache=self.resolver,
                )
        except Blocked as blocked:
            return Outcome(None, took(), None, f"blocked: {blocked}")
        except TimeoutError:
            return Outcome(None, took(), None, f"timeout resolving after {self.timeout:g}s")
        try:
            async with (
                asyncio.timeout(self.timeout),
                self.session().post(
                    target.url,
                    data=body,
                    headers={**headers, "host": target.host},
                    allow_redirects=False,
                    # TLS: the URL's host is the server name sent and the certificate checked
                    server_hostname=target.sni,
                ) as response,
            ):
                read = bytearray()
                while len(read) < MAX_READ:
                    chunk = await response.content.read(MAX_READ - len(read))
                    if not chunk:
                        break
                    read += chunk
                # Leaving the block releases the connection for reuse, or closes it when the
                # answer was not read to its end.
        except TimeoutError:
            return Outcome(None, took(), None, f"timeout after {self.timeout:g}s")
        except aiohttp.ClientError as exc:
            return Outcome(None, took(), None, f"{type(exc).__name__}: {exc}"[:500] or "error")
        text = bytes(read[:LOG_BYTES]).decode("utf-8", errors="replace")
        return Outcome(response.status, took(), text or None, None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
