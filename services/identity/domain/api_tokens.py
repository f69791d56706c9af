"""API tokens for external integrations. Names are stored with the `api:` prefix so they never mix
with panel sign-ins; the plain token is shown once, at creation.

A token never exceeds its creator. Creation is a panel-session-only route (`session_only`, enforced
by the kit before this code runs), so a token cannot mint tokens at all: no token can outlive or
outgrow the one that made it. Here that is checked once more, so the rule holds even if a route's
annotation changes: the creator must be a panel session, and the abilities granted must be known
ones the creator holds itself (a panel session holds "*", every ability)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from plixa.identity.v1 import events_pb2
from services.identity.domain import tokens
from services.identity.domain.models import TokenRecord
from services.identity.store import tokens as store
from services.kit.access import EVERY_ABILITY, PANEL_SESSION_REQUIRED, is_api_token
from services.kit.db import UnitOfWork
from services.kit.errors import forbidden, not_found
from services.kit.paging import Page, PageQuery
from services.kit.validation import Checker

NAME_PREFIX = "api:"
ABILITIES = ("read", "write")
MAX_DAYS = 3650


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    abilities: list[str]
    prefix: str
    expires_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    plain: str | None = None  # only right after creation


def _from_record(row: TokenRecord, plain: str | None = None) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name.removeprefix(NAME_PREFIX),
        abilities=list(row.abilities),
        prefix=row.prefix,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        created_at=row.created_at,
        plain=plain,
    )


async def list_tokens(uow: UnitOfWork, page: PageQuery) -> Page[ApiToken]:
    return (await store.list_api(uow, page, uow.clock.now())).map(_from_record)


async def create(
    uow: UnitOfWork, *, name: str, abilities: list[str], expires_in_days: int | None
) -> ApiToken:
    check = Checker()
    name = check.text("name", name, max_len=100)
    chosen = list(dict.fromkeys(abilities)) or list(ABILITIES)
    if any(a not in ABILITIES for a in chosen):
        check.fail("abilities", "Abilities must be read and/or write.", "in")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        check.fail("expires_in_days", f"Expiry must be 1 to {MAX_DAYS} days.", "between")
    check.done()
    principal = uow.principal
    if is_api_token(principal):
        raise forbidden(PANEL_SESSION_REQUIRED, "API tokens cannot create API tokens.")
    held = set(principal.abilities)
    if EVERY_ABILITY not in held and not held.issuperset(chosen):
        raise forbidden(
            "TOKEN_ABILITY_REQUIRED", "A token cannot be granted abilities its creator lacks."
        )
    now = uow.clock.now()
    secret = tokens.new_secret()
    token_id = await store.add(
        uow,
        kind="api",
        name=NAME_PREFIX + name,
        secret_hash=secret.digest,
        prefix=secret.prefix,
        abilities=chosen,
        created_at=now,
        tenant_id=uow.scope.tenant_id,
        user_id=principal.user_id,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    record = await store.get_record(uow, token_id)
    return _from_record(record, tokens.render(token_id, secret.plain))


async def revoke(uow: UnitOfWork, token_id: int) -> None:
    row = await store.find_api(uow, token_id)
    if row is None:
        raise not_found("API token")
    await store.revoke(uow, token_id, uow.clock.now())
    uow.emit(
        "identity.token.revoked",
        events_pb2.TokenRevoked(token_id=token_id, user_id=row.user_id, tenant_id=row.tenant_id),
    )
