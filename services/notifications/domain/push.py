"""Web push: subscriptions (checked by the SSRF guard: a push endpoint is an outbound URL too),
who gets which push, and the sender job (pywebpush with VAPID, aes128gcm). A push service that
answers 404 or 410 has dropped the subscription: it is deleted."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pywebpush import WebPushException, webpush_async
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kit.clock import Clock
from services.kit.errors import invalid
from services.notifications.domain.outbound import Blocked, resolve
from services.notifications.store import push as store

log = logging.getLogger("plixa.notifications.push")
MAX_ATTEMPTS = 5
BATCH = 50


@dataclass(frozen=True)
class Vapid:
    private_key: str  # base64url of the raw 32-byte P-256 key
    public_key: str  # base64url of the uncompressed point (applicationServerKey)
    subject: str  # mailto: or https: contact


@dataclass(frozen=True)
class Subscription:
    id: int
    endpoint: str
    content_encoding: str
    created_at: datetime
    updated_at: datetime


def _b64url_bytes(value: str, field: str, size: int | None = None) -> None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        raise invalid(field, f"The {field} must be base64url.") from None
    if size is not None and len(raw) != size:
        raise invalid(field, f"The {field} is not a valid key.")


async def subscribe(
    conn: AsyncConnection,
    *,
    owner_kind: str,
    owner_id: int,
    tenant_id: int | None,
    endpoint: str,
    p256dh: str,
    auth: str,
    content_encoding: str | None,
    production: bool,
    allowed_hosts: frozenset[str],
    now: datetime,
) -> Subscription:
    endpoint = endpoint.strip()
    try:
        await resolve(endpoint, production=production, allowed_hosts=allowed_hosts)
    except Blocked as blocked:
        raise invalid("endpoint", str(blocked), "url_not_allowed") from None
    _b64url_bytes(p256dh.strip(), "keys.p256dh", 65)
    _b64url_bytes(auth.strip(), "keys.auth", 16)
    row = await store.upsert(
        conn,
        owner_kind=owner_kind,
        owner_id=owner_id,
        tenant_id=tenant_id,
        endpoint=endpoint,
        p256dh=p256dh.strip(),
        auth=auth.strip(),
        content_encoding=content_encoding or "aes128gcm",
        now=now,
    )
    return Subscription(**row.__dict__)


def payload(title: str, body: str, url: str, tag: str = "") -> str:
    return json.dumps({"title": title, "body": body, "url": url, "tag": tag}, ensure_ascii=False)


def inbound_push(
    targets: list[store.Target],
    restricted: bool,
    conversation_id: int,
    assignee: int | None,
    sender: str,
    text: str,
) -> tuple[list[int], str]:
    """A new inbound message: the available members who may open the conversation, and what
    they are pushed."""
    users = [
        t.user_id
        for t in targets
        if not restricted or t.role == "owner" or assignee is None or assignee == t.user_id
    ]
    message = payload(
        sender or "New message",
        text[:180] or "New message",
        f"/conversations/{conversation_id}",
        f"c{conversation_id}",
    )
    return users, message


def assigned_push(conversation_id: int, contact: str) -> str:
    """What the new assignee of a conversation is pushed."""
    return payload(
        "Conversation assigned to you",
        contact or "A conversation",
        f"/conversations/{conversation_id}",
        f"a{conversation_id}",
    )


class PushSender:
    """The periodic job: sends queued pushes (rows are claimed: every replica may run it)."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock, vapid: Vapid, timeout: float = 10.0
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.vapid = vapid
        self.timeout = timeout

    async def run(self) -> None:
        while await self.tick() == BATCH:
            pass

    async def tick(self) -> int:
        async with self.engine.begin() as conn:
            due = await store.claim(conn, self.clock.now(), BATCH)
        for item in due:
            await self.send(item)
        return len(due)

    async def send(self, item: store.Due) -> None:
        status: int | None = None
        try:
            await webpush_async(
                subscription_info={
                    "endpoint": item.endpoint,
                    "keys": {"p256dh": item.p256dh, "auth": item.auth},
                },
                data=item.payload,
                vapid_private_key=self.vapid.private_key,
                vapid_claims={"sub": self.vapid.subject},
                content_encoding=item.content_encoding,
                timeout=self.timeout,
                ttl=3600,
            )
            ok = True
        except WebPushException as error:
            ok = False
            response = error.response
            status = getattr(response, "status", None) or getattr(response, "status_code", None)
            log.info("push refused (%s) for subscription %s", status, item.subscription_id)
        except Exception as error:  # network: retry later
            ok = False
            log.info("push failed for subscription %s: %s", item.subscription_id, error)
        async with self.engine.begin() as conn:
            if ok:
                await store.done(conn, item.id)
            elif status in (404, 410):
                await store.delete_subscription(conn, item.subscription_id)  # its queue goes too
            elif item.attempts + 1 >= MAX_ATTEMPTS or (
                status is not None and 400 <= status < 500 and status != 429
            ):
                await store.done(conn, item.id)
            else:
                attempts = item.attempts + 1
                await store.later(
                    conn, item.id, attempts, self.clock.now() + timedelta(seconds=2**attempts)
                )
