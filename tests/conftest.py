"""End-to-end fixtures: one private Plixa per test session (fresh database, private NATS with
JetStream, every service and a gateway as real processes), spoken to over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scripts.mesh import Stack

ADMIN_URL = os.environ.get(
    "PLIXA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# scrypt at 2^14 keeps the suite fast; production runs 2^17 (the hash records its own cost).
# Every test client shares 127.0.0.1, so the per-address sign-in class is widened here; the
# rate-limit tests start gateways with their own tight limits.
TEST_ENV = {
    "PLIXA_SCRYPT_LOG_N": "14",
    "PLIXA_LOG_LEVEL": "INFO",
    "PLIXA_RATE_LIMITS": "auth=10000/60",
}
PASSWORD = "super-secret-pw"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    stack = Stack.for_tests(ADMIN_URL, extra_env=dict(TEST_ENV))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def gateway_url(stack: Stack) -> str:
    return stack.start_gateway()


@pytest.fixture
def api(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=15) as client:
        yield client


def unique_email(prefix: str = "owner") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def registration(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Lucia Pereira",
        "email": unique_email(),
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        "company_name": "Lucia Studios",
        "country_code": "BR",
        "tax_id": "12.345.678/0001-90",
        "timezone": "America/Sao_Paulo",
        "locale": "pt",
    }
    body.update(overrides)
    return body


def register(api: httpx.Client, **overrides: Any) -> dict[str, Any]:
    """Registers a workspace and returns the `data` of the answer (user, tenant, token)."""
    response = api.post("/v1/auth/register", json=registration(**overrides))
    assert response.status_code == 201, response.text
    return response.json()["data"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["data"] is None
    assert body["meta"] is None
    return body["errors"]


def error_fields(response: httpx.Response) -> set[str | None]:
    return {e.get("field") for e in errors_of(response)}


def sql(stack: Stack, query: str, *args: Any) -> list[Any]:
    """Reads persisted state as the database administrator (tests look; services never cross)."""
    import asyncio

    import asyncpg

    async def run() -> list[Any]:
        conn = await asyncpg.connect(stack.database_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(run())
