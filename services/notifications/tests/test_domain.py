"""Notifications's pure rules: signatures, the SSRF guard, slow streams, email templates."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from plixa.common.v1.principal_pb2 import Principal
from services.kit.errors import DomainError
from services.notifications.domain import emails, outbound, signing
from services.notifications.domain.live import QUEUE_SIZE, Stream
from services.notifications.domain.outbound import (
    Blocked,
    ResolverCache,
    address_blocked,
    check_url,
    resolve,
)
from services.notifications.store.live import LiveRow


def test_signatures_follow_the_reference_and_standard_webhooks() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = b'{"id":"evt_1"}'
    headers = signing.headers([secret], "evt_1", 1700000000, body)
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-plixa-signature"] == f"sha256={expected}"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    standard = hmac.new(key, b"evt_1.1700000000." + body, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(standard).decode()
    both = signing.headers([secret, signing.new_secret()], "evt_1", 1700000000, body)
    assert both["x-plixa-signature"].startswith(headers["x-plixa-signature"] + ",sha256=")
    assert len(both["webhook-signature"].split(" ")) == 2


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",
        "2002:a00:1::1",
        "::",
    ],
)
def test_private_reserved_and_tunnelled_addresses_are_blocked(address: str) -> None:
    assert address_blocked(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert not address_blocked(address)


def test_urls_are_checked_before_resolving() -> None:
    assert check_url("https://example.com/x", production=True) == ("https", "example.com", 443)
    for url in ("http://example.com/", "ftp://example.com", "https://u:p@example.com", "https://"):
        with pytest.raises(Blocked):
            check_url(url, production=True)
    assert check_url("http://example.com:8080/", production=False)[2] == 8080


def test_resolution_pins_the_address_and_honours_the_allowed_hosts() -> None:
    async def run() -> None:
        with pytest.raises(Blocked):
            await resolve("http://127.0.0.1:9/x", production=False, allowed_hosts=frozenset())
        target = await resolve(
            "http://127.0.0.1:9/x?a=1", production=False, allowed_hosts=frozenset({"127.0.0.1"})
        )
        assert target.url == "http://127.0.0.1:9/x?a=1" and target.host == "127.0.0.1:9"
        with pytest.raises(Blocked):  # localhost is not the listed host
            await resolve(
                "http://localhost:9/", production=False, allowed_hosts=frozenset({"127.0.0.1"})
            )

    asyncio.run(run())


def test_cached_answers_are_checked_on_every_use() -> None:
    answers = {"hooks.example.com": ["93.184.216.34"], "rebind.example.com": ["10.0.0.7"]}
    asked: list[str] = []

    async def dns(host: str, port: int) -> list[str]:
        """A DNS that answers a public and a private (rebinding) address."""
        asked.append(host)
        return answers[host]

    async def run() -> None:
        cache = ResolverCache(ttl=60, resolver=dns)
        for _ in range(3):
            target = await resolve(
                "https://hooks.example.com/in",
                production=True,
                allowed_hosts=frozenset(),
                cache=cache,
            )
            assert (
                target.url == "https://93.184.216.34:443/in" and target.sni == "hooks.example.com"
            )
            with pytest.raises(Blocked):  # a kept private answer is refused each time it is used
                await resolve(
                    "https://rebind.example.com/",
                    production=True,
                    allowed_hosts=frozenset(),
                    cache=cache,
                )
        assert asked == ["hooks.example.com", "rebind.example.com"]  # once each within the TTL
        expired = ResolverCache(ttl=0, resolver=dns)
        for _ in range(2):
            await resolve(
                "https://hooks.example.com/",
                production=True,
                allowed_hosts=frozenset(),
                cache=expired,
            )
        assert asked[2:] == ["hooks.example.com", "hooks.example.com"]

    asyncio.run(run())


def test_the_sender_follows_no_redirect_keeps_no_cookie_and_caps_what_it_reads() -> None:
    """Against a local receiver: a 302 is an outcome (not followed), a Set-Cookie is not sent
    back, a huge answer is cut at MAX_READ, and the connection after it still works."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head)
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                if b"/redirect" in head:
                    answer = (
                        b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\n"
                        b"set-cookie: session=secret\r\ncontent-length: 0\r\n\r\n"
                    )
                elif b"/huge" in head:
                    body = b"x" * (outbound.MAX_READ * 4)
                    answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body
                else:
                    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sender = outbound.Sender(
            production=False, allowed_hosts=frozenset({"127.0.0.1"}), timeout=5
        )
        try:
            base = f"http://127.0.0.1:{port}"
            moved = await sender.post(f"{base}/redirect", b"{}", {"webhook-id": "evt_1"})
            assert moved.status_code == 302 and not moved.ok
            huge = await sender.post(f"{base}/huge", b"{}", {"webhook-id": "evt_2"})
            assert huge.status_code == 200 and huge.body == "x" * outbound.LOG_BYTES
            after = await sender.post(f"{base}/after", b"{}", {"webhook-id": "evt_3"})
            assert after.status_code == 200 and after.body == "ok"
            blocked = await sender.post("http://10.0.0.1/x", b"{}", {})
            assert blocked.status_code is None and (blocked.error or "").startswith("blocked")
        finally:
            await sender.close()
            server.close()
        assert len(seen) == 3  # nothing followed the redirect
        assert not any(b"cookie:" in head.lower() for head in seen)
        assert all(b"\r\nhost: 127.0.0.1:" in head.lower() for head in seen)

    asyncio.run(run())


def test_a_slow_stream_is_dropped_not_buffered() -> None:
    async def run() -> None:
        stream = Stream(Principal(tenant_id=1, user_id=2, role="owner"), frozenset())
        row = LiveRow(1, 1, "message.inbound", 5, [None], "{}", datetime.now(UTC))
        for _ in range(QUEUE_SIZE + 10):
            stream.offer(row)
        assert stream.dropped and stream.queue.qsize() == 1
        assert await stream.queue.get() is None

    asyncio.run(run())


def test_restricted_agents_see_own_and_unassigned_only() -> None:
    agent = Stream(Principal(tenant_id=1, user_id=7, role="agent"), frozenset())
    owner = Stream(Principal(tenant_id=1, user_id=1, role="owner"), frozenset({"message.inbound"}))
    now = datetime.now(UTC)
    mine = LiveRow(1, 1, "message.inbound", 5, [7], "{}", now)
    theirs = LiveRow(2, 1, "message.inbound", 6, [8], "{}", now)
    loose = LiveRow(3, 1, "conversation.updated", 9, [None], "{}", now)
    assert [agent.may_see(r, True) for r in (mine, theirs, loose)] == [True, False, True]
    assert [agent.may_see(r, False) for r in (mine, theirs, loose)] == [True, True, True]
    assert [owner.may_see(r, True) for r in (mine, theirs, loose)] == [True, True, False]


def test_emails_have_text_and_html_and_refuse_bad_input() -> None:
    rendered = emails.render(
        "invitation", {"url": "https://panel/x?token=<a>", "workspace": "Lu & Co", "role": "agent"}
    )
    assert "https://panel/x?token=<a>" in rendered.text
    assert "Lu &amp; Co" in rendered.html and "<a>" not in rendered.html.replace("<a href", "")
    with pytest.raises(DomainError) as missing:
        emails.render("invitation", {})
    assert missing.value.fields[0].field == "data.url"
    with pytest.raises(DomainError):
        emails.render("nope", {})
    with pytest.raises(DomainError):
        emails.check_address("not an email")
