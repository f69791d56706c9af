"""The baseline for `make bench`: one FastAPI process doing what GET /v1/me costs without the
mesh — parse the bearer, look the token up, compare its digest, load the member and workspace
from PostgreSQL, answer the envelope. No cache, no gRPC, no rate limit."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.config import asyncpg_url

engine = create_async_engine(asyncpg_url(os.environ["BENCH_DATABASE_URL"]), pool_size=20)
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

TOKEN = text(
    "SELECT secret_hash, user_id, tenant_id, revoked_at, expires_at"
    " FROM identity.tokens WHERE id = :id"
)
USER = text("SELECT id, tenant_id, name, email, role, locale FROM identity.users WHERE id = :id")
TENANT = text(
    "SELECT id, name, slug, country_code, timezone, locale, status"
    " FROM identity.tenants WHERE id = :id"
)


def envelope(data: Any, errors: Any = None, status: int = 200) -> Response:
    body = json.dumps({"data": data, "meta": None, "errors": errors}, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


@app.get("/v1/me")
async def me(request: Request) -> Response:
    token_id, _, secret = (
        request.headers.get("authorization", "").removeprefix("Bearer ").partition("|")
    )
    refused = envelope(None, [{"code": "UNAUTHENTICATED", "message": "Invalid token."}], 401)
    if not token_id.isdigit():
        return refused
    async with engine.connect() as conn:
        token = (await conn.execute(TOKEN, {"id": int(token_id)})).one_or_none()
        digest = hashlib.sha256(secret.encode()).digest()
        if (
            token is None
            or token.revoked_at
            or not hmac.compare_digest(bytes(token.secret_hash), digest)
        ):
            return refused
        user = (await conn.execute(USER, {"id": token.user_id})).one()
        tenant = (await conn.execute(TENANT, {"id": token.tenant_id})).one()
    return envelope({"user": dict(user._mapping), "tenant": dict(tenant._mapping)})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
