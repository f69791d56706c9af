"""The baseline for `make bench` (path C): one FastAPI process doing what GET /v1/me costs without
the mesh. Per request it parses the bearer `<id>|<secret>`, reads the token row, compares
SHA-256 of the secret with the stored digest, loads the member and the workspace rows, and
answers the same envelope as the gateway. No cache, no gRPC, no rate limit.

It reads identity's tables with the same SQLAlchemy Core statements identity runs, through an
asyncpg pool whose statements autocommit (as identity's read-only units of work do), so the
comparison is about the mesh, not about a different way of querying.

Run by bench/gateway.py: `BENCH_DATABASE_URL=… BENCH_PORT=… python -m bench.one_process_app`."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from services.identity.store.tables import tenants, tokens, users
from services.kit.config import asyncpg_url

USER_FIELDS = ("id", "tenant_id", "name", "email", "role", "locale")
TENANT_FIELDS = ("id", "name", "slug", "country_code", "timezone", "locale", "status")
REFUSED = [{"code": "UNAUTHENTICATED", "message": "The bearer token is invalid or has expired."}]


def envelope(data: Any = None, errors: Any = None, status: int = 200) -> Response:
    """The gateway's envelope, serialised the same way (compact, UTF-8 as is)."""
    body = json.dumps(
        {"data": data, "meta": None, "errors": errors},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return Response(body, status_code=status, media_type="application/json")


def parse_bearer(authorization: str) -> tuple[int, str] | None:
    scheme, _, token = authorization.partition(" ")
    token_id, sep, secret = token.strip().partition("|")
    if scheme.lower() != "bearer" or not sep or not secret:
        return None
    if not token_id.isdigit() or len(token_id) > 18:
        return None
    return int(token_id), secret


def create_app(database_url: str, pool_size: int = 20) -> FastAPI:
    engine = create_async_engine(
        asyncpg_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        isolation_level="AUTOCOMMIT",  # reads only: no BEGIN/ROLLBACK round trips
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def liveness() -> Response:
        return envelope({"status": "alive"})

    @app.get("/v1/me")
    async def me(request: Request) -> Response:
        parsed = parse_bearer(request.headers.get("authorization", ""))
        if parsed is None:
            return envelope(errors=REFUSED, status=401)
        token_id, secret = parsed
        async with engine.connect() as conn:
            token = (
                await conn.execute(select(tokens).where(tokens.c.id == token_id))
            ).one_or_none()
            if (
                token is None
                or token.user_id is None
                or token.revoked_at is not None
                or (token.expires_at is not None and token.expires_at <= datetime.now(UTC))
                or not hmac.compare_digest(
                    hashlib.sha256(secret.encode()).digest(), bytes(token.secret_hash)
                )
            ):
                return envelope(errors=REFUSED, status=401)
            user = (
                await conn.execute(
                    select(users).where(
                        users.c.tenant_id == token.tenant_id, users.c.id == token.user_id
                    )
                )
            ).one_or_none()
            tenant = (
                await conn.execute(select(tenants).where(tenants.c.id == token.tenant_id))
            ).one_or_none()
        if user is None or tenant is None:
            return envelope(errors=REFUSED, status=401)
        return envelope(
            {
                "user": {name: getattr(user, name) for name in USER_FIELDS},
                "tenant": {name: getattr(tenant, name) for name in TENANT_FIELDS},
            }
        )

    return app


def main() -> None:
    uvicorn.run(
        create_app(os.environ["BENCH_DATABASE_URL"]),
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
