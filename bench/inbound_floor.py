"""The lean inbound floor `bench/inbound.py` compares the mesh with: one process, raw ASGI on
uvicorn, asyncpg, one transaction per message (contact and conversation upserts, idempotent
message insert, outbox row), and a relay publishing the outbox to JetStream with Nats-Msg-Id.
It checks the same per-instance secret header and reads the same Evolution JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import nats
import uvicorn
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from plixa.inbox.v1 import events_pb2, inbox_pb2

SCHEMA = "bench_floor"
SUBJECT = "floor.message.inbound"
STREAM = "BENCH_FLOOR"
DDL = f"""
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
CREATE SCHEMA {SCHEMA};
CREATE TABLE {SCHEMA}.instances (name text PRIMARY KEY, tenant_id bigint NOT NULL,
    id bigint NOT NULL, secret text NOT NULL);
CREATE TABLE {SCHEMA}.contacts (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL,
    phone text NOT NULL, name text, UNIQUE (tenant_id, phone));
CREATE TABLE {SCHEMA}.conversations (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL,
    instance_id bigint NOT NULL, contact_id bigint, phone text NOT NULL,
    last_activity_at timestamptz NOT NULL, unread integer NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, instance_id, phone));
CREATE TABLE {SCHEMA}.messages (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL,
    conversation_id bigint NOT NULL, wa_id text NOT NULL, body text, sent_at timestamptz NOT NULL,
    UNIQUE (tenant_id, wa_id));
CREATE TABLE {SCHEMA}.outbox (seq bigserial PRIMARY KEY, id uuid NOT NULL, subject text NOT NULL,
    payload bytea NOT NULL, published_at timestamptz);
CREATE INDEX ON {SCHEMA}.outbox (seq) WHERE published_at IS NULL;
"""
CONTACT = f"""INSERT INTO {SCHEMA}.contacts (tenant_id, phone, name) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, phone) DO UPDATE SET name = coalesce(contacts.name, EXCLUDED.name)
RETURNING id"""
CONVERSATION = f"""INSERT INTO {SCHEMA}.conversations (tenant_id, instance_id, contact_id, phone,
last_activity_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, instance_id, phone)
DO UPDATE SET contact_id = coalesce(conversations.contact_id, EXCLUDED.contact_id) RETURNING id"""
MESSAGE = f"""INSERT INTO {SCHEMA}.messages (tenant_id, conversation_id, wa_id, body, sent_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id"""
TOUCH = f"""UPDATE {SCHEMA}.conversations SET last_activity_at = greatest(last_activity_at, $2),
unread = unread + 1 WHERE id = $1"""
OUTBOX = f"INSERT INTO {SCHEMA}.outbox (id, subject, payload) VALUES ($1, $2, $3)"
OK = b'{"data":{"stored":1},"meta":null,"errors":null}'


async def prepare(database_url: str, instances: list[tuple[str, int, int, str]]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(DDL)
        await conn.executemany(
            f"INSERT INTO {SCHEMA}.instances (name, tenant_id, id, secret) VALUES ($1,$2,$3,$4)",
            instances,
        )
    finally:
        await conn.close()


def serve(port: int, database_url: str, nats_url: str) -> None:
    """Runs the floor app until killed (a child process of the bench)."""
    state: dict[str, Any] = {}
    wake = asyncio.Event()

    async def startup() -> None:
        pool = await asyncpg.create_pool(database_url, min_size=4, max_size=10)
        state["pool"] = pool
        async with pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT * FROM {SCHEMA}.instances")
        state["instances"] = {r["name"]: (r["tenant_id"], r["id"], r["secret"]) for r in rows}
        client = await nats.connect(nats_url)
        js = client.jetstream()
        with contextlib.suppress(Exception):
            try:
                await js.stream_info(STREAM)
            except NotFoundError:
                await js.add_stream(
                    StreamConfig(name=STREAM, subjects=["floor.>"], duplicate_window=120)
                )
        state["relay"] = asyncio.create_task(relay(pool, js))

    async def relay(pool: asyncpg.Pool, js: Any) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.05)
            wake.clear()
            while True:
                async with pool.acquire() as conn, conn.transaction():
                    rows = await conn.fetch(
                        f"SELECT seq, id, subject, payload FROM {SCHEMA}.outbox"
                        " WHERE published_at IS NULL ORDER BY seq LIMIT 200"
                        " FOR UPDATE SKIP LOCKED"
                    )
                    if not rows:
                        break
                    await asyncio.gather(
                        *(
                            js.publish(
                                r["subject"], r["payload"], headers={"Nats-Msg-Id": str(r["id"])}
                            )
                            for r in rows
                        )
                    )
                    await conn.execute(
                        f"UPDATE {SCHEMA}.outbox SET published_at = now() WHERE seq = ANY($1)",
                        [r["seq"] for r in rows],
                    )

    async def store(instance: tuple[int, int, str], payload: dict[str, Any]) -> None:
        tenant_id, instance_id, _ = instance
        data = payload["data"]
        key = data["key"]
        phone = key["remoteJid"].split("@", 1)[0]
        sent_at = datetime.fromtimestamp(int(data["messageTimestamp"]), UTC)
        body = (data.get("message") or {}).get("conversation")
        async with state["pool"].acquire() as conn, conn.transaction():
            contact = await conn.fetchval(CONTACT, tenant_id, phone, data.get("pushName"))
            conversation = await conn.fetchval(
                CONVERSATION, tenant_id, instance_id, contact, phone, sent_at
            )
            message = await conn.fetchval(
                MESSAGE, tenant_id, conversation, key["id"], body, sent_at
            )
            if message is None:
                return
            await conn.execute(TOUCH, conversation, sent_at)
            event = events_pb2.MessageEvent(
                tenant_id=tenant_id,
                conversation_id=conversation,
                contact_id=contact,
                contact_phone=phone,
                message=inbox_pb2.Message(
                    id=message,
                    conversation_id=conversation,
                    direction="inbound",
                    type="text",
                    body=body,
                    whatsapp_message_id=key["id"],
                ),
            )
            await conn.execute(OUTBOX, uuid.uuid4(), SUBJECT, event.SerializeToString())
        wake.set()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await startup()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        name = scope["path"].rsplit("/", 1)[-1]
        headers = dict(scope["headers"])
        instance = state["instances"].get(name)
        status, answer = 200, OK
        if instance is None or headers.get(b"x-plixa-instance-secret", b"").decode() != instance[2]:
            status, answer = 401, b'{"data":null}'
        else:
            await store(instance, json.loads(body))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )
