"""The public waitlist: one entry per email (a repeat answers the same entry), and at most
`per_hour` sign-ups per client address and hour."""

from __future__ import annotations

from datetime import timedelta

from services.backoffice.store import waitlist as store
from services.backoffice.store.waitlist import WaitlistRow
from services.kit.db import UnitOfWork
from services.kit.errors import rate_limited
from services.kit.paging import Page, PageQuery
from services.kit.principal import client_address
from services.kit.validation import Checker

WINDOW = timedelta(hours=1)


async def join(
    uow: UnitOfWork, *, email: str, locale: str | None, referrer: str | None, per_hour: int
) -> WaitlistRow:
    check = Checker()
    email = check.email("email", email)
    if len(email) > 254:
        check.fail("email", "The email may not be longer than 254 characters.", "too_long")
    if locale is not None:
        locale = check.locale("locale", locale)
    if referrer is not None:
        referrer = check.text("referrer", referrer, required=False, max_len=2000) or None
    check.done()
    now = uow.clock.now()
    address = client_address() or "unknown"
    if await store.count_attempt(uow.conn, address, now, now - WINDOW) > per_hour:
        raise rate_limited(int(WINDOW.total_seconds()), "Too many sign-ups from this address.")
    return await store.join(uow.conn, email=email, locale=locale, referrer=referrer, now=now)


async def list_page(uow: UnitOfWork, q: str | None, page: PageQuery) -> Page[WaitlistRow]:
    return await store.list_page(uow.conn, q, page)
