"""Workspaces and members: registration, sign-in, the member's own profile, sign-out."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from plixa.identity.v1 import events_pb2
from services.identity.domain import throttle, tokens
from services.identity.domain.credentials import check_password, invalid_credentials
from services.identity.domain.models import Session, Tenant, User
from services.identity.store import accounts as store
from services.identity.store import principals
from services.identity.store import tokens as token_store
from services.identity.store.accounts import UserChanges
from services.kit.db import UnitOfWork
from services.kit.errors import invalid, not_found
from services.kit.fastsql import Reads
from services.kit.protos import checked_change
from services.kit.rows import UNSET, Unset, changed
from services.kit.validation import Checker

PANEL_ABILITIES = ["*"]
CHALLENGE_LIFETIME = timedelta(minutes=10)
DEFAULT_LOCALE = "en"


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    password: str
    company_name: str
    country_code: str
    timezone: str
    locale: str
    tax_id: str | None


def check_registration(
    *,
    name: str,
    email: str,
    password: str,
    password_confirmation: str,
    company_name: str,
    country_code: str,
    timezone: str,
    locale: str | None,
    tax_id: str | None,
) -> Registration:
    """All field rules at once, before any hashing or SQL."""
    check = Checker()
    form = Registration(
        name=check.text("name", name),
        email=check.email("email", email),
        password=password,
        company_name=check.text("company_name", company_name),
        country_code=check.country("country_code", country_code),
        timezone=check.timezone("timezone", timezone),
        locale=check.locale("locale", locale) if locale is not None else DEFAULT_LOCALE,
        tax_id=check.text("tax_id", tax_id, required=False, max_len=64) or None
        if tax_id is not None
        else None,
    )
    check_password(check, "password", password)
    if password != password_confirmation:
        check.fail("password", "The password confirmation does not match.", "confirmed")
    check.done()
    return form


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    return base or "workspace"


async def register(uow: UnitOfWork, form: Registration, password_hash: str) -> Session:
    """Creates the workspace, its owner and the owner's panel token in one transaction."""
    if await store.email_taken(uow, form.email):
        raise invalid("email", "The email has already been taken.", "taken")
    now = uow.clock.now()
    base = slugify(form.company_name)
    slug = f"{base}-{secrets.token_hex(3)}"
    while await store.slug_taken(uow, slug):
        slug = f"{base}-{secrets.token_hex(3)}"
    tenant = await store.add_tenant(
        uow,
        created_at=now,
        name=form.company_name,
        slug=slug,
        country_code=form.country_code,
        timezone=form.timezone,
        locale=form.locale,
        tax_id=form.tax_id,
    )
    try:
        user = await store.add_user(
            uow,
            tenant.id,
            created_at=now,
            name=form.name,
            email=form.email,
            password_hash=password_hash,
            role="owner",
            locale=form.locale,
            is_founder=True,
        )
    except store.EmailTaken:
        raise invalid("email", "The email has already been taken.", "taken") from None
    token = await issue_panel_token(uow, user)
    uow.emit(
        "identity.user.registered",
        events_pb2.UserRegistered(
            user_id=user.id,
            tenant_id=tenant.id,
            email=user.email,
            name=user.name,
            tenant_name=tenant.name,
            tenant_slug=tenant.slug,
            country_code=tenant.country_code,
        ),
        tenant_id=tenant.id,
    )
    return Session(user, tenant, token)


async def issue_panel_token(uow: UnitOfWork, user: User) -> str:
    return await _issue_member_token(uow, user, kind="panel", abilities=PANEL_ABILITIES)


async def issue_challenge_token(uow: UnitOfWork, user: User) -> str:
    """Opens only POST /v1/auth/2fa-challenge, for ten minutes."""
    return await _issue_member_token(
        uow, user, kind="challenge", abilities=[], lifetime=CHALLENGE_LIFETIME
    )


async def _issue_member_token(
    uow: UnitOfWork,
    user: User,
    *,
    kind: str,
    abilities: list[str],
    lifetime: timedelta | None = None,
) -> str:
    secret = tokens.new_secret()
    now = uow.clock.now()
    token_id = await token_store.add(
        uow,
        kind=kind,
        name=kind,
        secret_hash=secret.digest,
        prefix=secret.prefix,
        abilities=abilities,
        created_at=now,
        tenant_id=user.tenant_id,
        user_id=user.id,
        expires_at=now + lifetime if lifetime else None,
    )
    return tokens.render(token_id, secret.plain)


async def load_for_login(uow: UnitOfWork, email: str) -> User | None:
    """Counts the attempt, or refuses it (429), before any password work; None when no such
    member. The caller commits the count before hashing."""
    await throttle.claim_attempt(uow, "user", email)
    return await store.find_user_by_email(uow, email.strip())


async def complete_login(
    uow: UnitOfWork, user: User | None, email: str, password_ok: bool
) -> Session | None:
    """A session, or None when refused. Wrong email and wrong password end the same way (the
    attempt was counted when claimed; the caller answers INVALID_CREDENTIALS)."""
    if user is None or not password_ok:
        return None
    await throttle.record_success(uow, "user", email)
    tenant = await store.get_tenant(uow, user.tenant_id)
    if tenant is None:
        raise invalid_credentials()
    if user.two_factor_enabled:
        return Session(user, tenant, await issue_challenge_token(uow, user), two_factor=True)
    return Session(user, tenant, await issue_panel_token(uow, user))


async def me(uow: Reads) -> tuple[User, Tenant]:
    """The calling member and their workspace: one joined query (it runs on every page load)."""
    found = await principals.member_with_tenant(uow, uow.principal.user_id)
    if found is None:
        raise not_found("User")
    return found


async def member(uow: UnitOfWork, user_id: int) -> User:
    """A member of the caller's workspace; another workspace's member does not exist here."""
    user = await store.get_user(uow, uow.scope.tenant_id, user_id)
    if user is None:
        raise not_found("Member")
    return user


@dataclass(frozen=True)
class MeChanges:
    """What PATCH /v1/me asks for: UNSET fields were not in the update mask, None was null."""

    name: str | Unset | None = UNSET
    locale: str | Unset | None = UNSET


async def update_me(uow: UnitOfWork, asked: MeChanges) -> tuple[User, Tenant]:
    """Only the member's own name and locale; neither may be cleared."""
    check = Checker()
    changes = UserChanges(
        name=checked_change(check, "name", asked.name, check.text),
        locale=checked_change(check, "locale", asked.locale, check.locale),
    )
    check.done()
    if changed(changes):
        await store.update_user(uow, uow.principal.user_id, changes)
    return await me(uow)
