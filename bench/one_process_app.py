"""The baseline for `make bench` (path C): GET /v1/me as a strong engineer would write it in one
process. FastAPI, an asyncpg pool, no ORM, and ONE joined query per request: the bearer's token
row joined to its member and workspace, prepared once per connection (asyncpg's statement cache).
It checks what the full path checks for this route (a live member token, not a two-factor
challenge, the secret's SHA-256, the `read` ability) and answers the gateway's envelope byte for
byte. No cache, no gRPC, no rate limit.

Run by bench/gateway.py: `BENCH_DATABASE_URL=… BENCH_PORT=… python -m bench.one_process_app`."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

# Revocation and expiry are decided by the database; the secret and the kind in Python.
ME_BY_TOKEN = """
SELECT tok.secret_hash, tok.kind, tok.abilities,
       u.id AS user_id, u.tenant_id AS user_tenant_id, u.name AS user_name,
       u.email AS user_email, u.role AS user_role, u.locale AS user_locale,
       t.id AS tenant_id, t.name AS tenant_name, t.slug AS tenant_slug,
       t.country_code AS tenant_country_code, t.timezone AS tenant_timezone,
       t.locale AS tenant_locale, t.status AS tenant_status
FROM identity.tokens tok
JOIN identity.users u ON u.tenant_id = tok.tenant_id AND u.id = tok.user_id
JOIN identity.tenants t ON t.id = tok.tenant_id
WHERE tok.id = $1 AND tok.revoked_at IS NULL
  AND (tok.expires_at IS NULL OR tok.expires_at > now())
"""
MEMBER_KINDS = ("panel", "api")  # not staff, not a two-factor challenge
REFUSED = [{"code": "UNAUTHENTICATED", "message": "The bearer token is invalid or has expired."}]
encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def envelope(data: Any = None, errors: Any = None, status: int = 200) -> Response:
    """The gateway's envelope, serialised the same way (compact, UTF-8 as is)."""
    body = encode({"data": data, "meta": None, "errors": errors})
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
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=2, max_size=pool_size)
        yield
        await pool.close()

    app = FastAPI(
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # As the gateway: no per-request OpenTelemetry provider lookups (nothing is exported).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    @app.get("/healthz")
    async def liveness() -> Response:
        return envelope({"status": "alive"})

    @app.get("/v1/me")
    async def me(request: Request) -> Response:
        parsed = parse_bearer(request.headers.get("authorization", ""))
        if parsed is None:
            return envelope(errors=REFUSED, status=401)
        token_id, secret = parsed
        assert pool is not None
        row = await pool.fetchrow(ME_BY_TOKEN, token_id)
        if (
            row is None
            or row["kind"] not in MEMBER_KINDS
            or not hmac.compare_digest(hashlib.sha256(secret.encode()).digest(), row["secret_hash"])
        ):
            return envelope(errors=REFUSED, status=401)
        abilities = row["abilities"]
        if "*" not in abilities and "read" not in abilities:
            return envelope(
                errors=[
                    {
                        "code": "TOKEN_ABILITY_REQUIRED",
                        "message": "This token lacks the 'read' ability.",
                    }
                ],
                status=403,
            )
        return envelope(
            {
                "user": {
                    "id": row["user_id"],
                    "tenant_id": row["user_tenant_id"],
                    "name": row["user_name"],
                    "email": row["user_email"],
                    "role": row["user_role"],
                    "locale": row["user_locale"],
                },
                "tenant": {
                    "id": row["tenant_id"],
                    "name": row["tenant_name"],
                    "slug": row["tenant_slug"],
                    "country_code": row["tenant_country_code"],
                    "timezone": row["tenant_timezone"],
                    "locale": row["tenant_locale"],
                    "status": row["tenant_status"],
                },
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
