"""Each member's Google Calendar link.

- Connect: a random state, kept only as its SHA-256 with the member's ids for 10 minutes, goes
  to Google's consent page; the (public) callback consumes it once, so the tokens land on the
  member who started, whoever's browser comes back.
- Tokens are sealed with PLIXA_ENCRYPTION_KEY at rest and never returned.
- A job reads each connected member's free/busy (the next 60 days) into `busy_intervals`, which
  the availability engine treats as busy. A refused refresh (invalid_grant) marks the link
  `broken` with its error, and its busy times stop blocking (they are dropped).
- Bookings are written to the provider's calendar (best effort: a failure is logged)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from plixa.scheduling.v1 import scheduling_pb2 as pb
from services.kit import fastsql
from services.kit.crypto import SecretBox
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, forbidden
from services.kit.principal import ANONYMOUS, service_principal
from services.scheduling.clients.google import SCOPES, Google, GoogleUnavailable, GrantRevoked
from services.scheduling.store.appointments import AppointmentRow
from services.scheduling.store.tables import (
    appointments,
    busy_intervals,
    google_links,
    google_oauth_states,
)

log = logging.getLogger("plixa.scheduling.google")
STATE_TTL = timedelta(minutes=10)
BUSY_WINDOW = timedelta(days=60)
EARLY_REFRESH = timedelta(seconds=60)


def not_configured() -> DomainError:
    return DomainError("GOOGLE_NOT_CONFIGURED", "Google Calendar is not configured.", 409)


def unavailable() -> DomainError:
    return DomainError("GOOGLE_UNAVAILABLE", "Google did not answer. Try again shortly.", 502)


def state_invalid() -> DomainError:
    return DomainError(
        "OAUTH_STATE_INVALID", "This link expired or was already used. Connect again.", 400
    )


def _digest(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


def _member(uow: UnitOfWork) -> tuple[int, int]:
    if not uow.principal.user_id:
        raise forbidden("MEMBER_REQUIRED", "Only a workspace member links a calendar.")
    return uow.scope.tenant_id, int(uow.principal.user_id)


LINK_AND_NAME = """
SELECT (SELECT status FROM scheduling.google_links WHERE user_id = $1),
       (SELECT name FROM scheduling.services WHERE id = $2)
"""


class GoogleLinks:
    def __init__(self, google: Google | None = None, box: SecretBox | None = None) -> None:
        self.google = google
        self.box = box

    # ── reads ───────────────────────────────────────────────────────────────────────────

    async def statuses(self, uow: UnitOfWork, user_ids: Sequence[int]) -> dict[int, str]:
        if not user_ids:
            return {}
        rows = await uow.conn.execute(
            uow.scope.select(google_links, google_links.c.user_id, google_links.c.status).where(
                google_links.c.user_id.in_(list(user_ids))
            )
        )
        return {r.user_id: r.status for r in rows}

    async def link(self, db: Database) -> pb.GoogleLink:
        async with db.reader() as uow:
            _, user_id = _member(uow)
            row = (
                await uow.conn.execute(
                    uow.scope.select(google_links).where(google_links.c.user_id == user_id)
                )
            ).one_or_none()
        if row is None:
            return pb.GoogleLink(status="none")
        return pb.GoogleLink(
            status=row.status, email=row.email, connected_at=row.connected_at, error=row.error
        )

    # ── connect, callback, disconnect ───────────────────────────────────────────────────

    def _ready(self) -> tuple[Google, SecretBox]:
        if self.google is None or self.box is None or not self.google.config.enabled:
            raise not_configured()
        return self.google, self.box

    async def connect_url(self, db: Database) -> str:
        google, _ = self._ready()
        state = secrets.token_urlsafe(32)
        async with db.unit_of_work() as uow:
            tenant_id, user_id = _member(uow)
            now = uow.clock.now()
            await uow.conn.execute(
                delete(google_oauth_states).where(google_oauth_states.c.expires_at < now)
            )
            await uow.conn.execute(
                insert(google_oauth_states).values(
                    state_hash=_digest(state),
                    tenant_id=tenant_id,
                    user_id=user_id,
                    expires_at=now + STATE_TTL,
                )
            )
        query = urlencode(
            {
                "client_id": google.config.client_id,
                "redirect_uri": google.config.redirect_uri,
                "response_type": "code",
                "scope": SCOPES,
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
                "state": state,
            }
        )
        return f"{google.config.auth_url}?{query}"

    async def callback(self, db: Database, code: str, state: str, error: str) -> pb.GoogleLink:
        google, box = self._ready()
        async with db.unit_of_work(ANONYMOUS) as uow:
            row = (
                await uow.conn.execute(
                    delete(google_oauth_states)
                    .where(
                        google_oauth_states.c.state_hash == _digest(state),
                        google_oauth_states.c.expires_at > uow.clock.now(),
                    )
                    .returning(google_oauth_states.c.tenant_id, google_oauth_states.c.user_id)
                )
            ).one_or_none()
        if row is None or not state:
            raise state_invalid()
        if error or not code:
            raise DomainError("OAUTH_DENIED", "Google access was not granted.", 400)
        try:
            tokens = await google.exchange_code(code)
        except GrantRevoked:
            raise DomainError(
                "OAUTH_CODE_INVALID", "Google refused the code. Connect again.", 400
            ) from None
        except GoogleUnavailable:
            raise unavailable() from None
        if not tokens.refresh_token:
            raise DomainError("OAUTH_CODE_INVALID", "Google gave no offline access.", 400)
        tenant_id, user_id = int(row.tenant_id), int(row.user_id)
        async with db.unit_of_work(service_principal("scheduling", tenant_id)) as uow:
            now = uow.clock.now()
            values = {
                "tenant_id": tenant_id,
                "email": "",
                "status": "connected",
                "refresh_token_sealed": box.seal(tokens.refresh_token),
                "access_token_sealed": box.seal(tokens.access_token),
                "access_expires_at": now + timedelta(seconds=tokens.expires_in),
                "error": None,
                "connected_at": now,
                "busy_synced_at": None,
            }
            await uow.conn.execute(
                pg_insert(google_links)
                .values(user_id=user_id, **values)
                .on_conflict_do_update(index_elements=[google_links.c.user_id], set_=values)
            )
        await self.sync_busy(db, user_id)
        async with db.reader(service_principal("scheduling", tenant_id)) as uow:
            link = (
                await uow.conn.execute(
                    select(google_links).where(google_links.c.user_id == user_id)
                )
            ).one()
        return pb.GoogleLink(
            status=link.status, email=link.email, connected_at=link.connected_at, error=link.error
        )

    async def disconnect(self, db: Database) -> pb.GoogleLink:
        async with db.unit_of_work() as uow:
            _, user_id = _member(uow)
            await uow.conn.execute(
                uow.scope.delete(google_links).where(google_links.c.user_id == user_id)
            )
            await uow.conn.execute(
                delete(busy_intervals).where(busy_intervals.c.provider_id == user_id)
            )
        return pb.GoogleLink(status="none")

    # ── tokens, busy times, events ──────────────────────────────────────────────────────

    async def _access_token(self, db: Database, user_id: int) -> str | None:
        """A valid access token, refreshed when (nearly) expired; None when the link is gone or
        broken (a refused refresh breaks it here)."""
        google, box = self._ready()
        async with db.reader(ANONYMOUS) as uow:
            row = (
                await uow.conn.execute(
                    select(google_links).where(google_links.c.user_id == user_id)
                )
            ).one_or_none()
            now = uow.clock.now()
        if row is None or row.status != "connected":
            return None
        if (
            row.access_token_sealed
            and row.access_expires_at
            and row.access_expires_at - EARLY_REFRESH > now
        ):
            return box.open(row.access_token_sealed)
        try:
            tokens = await google.refresh(box.open(row.refresh_token_sealed))
        except GrantRevoked:
            await self._break(db, user_id, "Google refused the refresh token (invalid_grant).")
            return None
        async with db.unit_of_work(ANONYMOUS) as uow:
            await uow.conn.execute(
                update(google_links)
                .where(google_links.c.user_id == user_id)
                .values(
                    access_token_sealed=box.seal(tokens.access_token),
                    access_expires_at=uow.clock.now() + timedelta(seconds=tokens.expires_in),
                )
            )
        return tokens.access_token

    async def _break(self, db: Database, user_id: int, error: str) -> None:
        async with db.unit_of_work(ANONYMOUS) as uow:
            await uow.conn.execute(
                update(google_links)
                .where(google_links.c.user_id == user_id)
                .values(status="broken", error=error, access_token_sealed=None)
            )
            await uow.conn.execute(
                delete(busy_intervals).where(busy_intervals.c.provider_id == user_id)
            )
        log.warning("google link of user %s broken: %s", user_id, error)

    async def sync_busy(self, db: Database, user_id: int) -> bool:
        google, _ = self._ready()
        try:
            token = await self._access_token(db, user_id)
            if token is None:
                return False
            async with db.reader(ANONYMOUS) as uow:
                now = uow.clock.now()
            busy = await google.free_busy(token, now, now + BUSY_WINDOW)
        except GrantRevoked:
            await self._break(db, user_id, "Google refused the access token.")
            return False
        except GoogleUnavailable as exc:
            log.warning("free/busy of user %s not read: %s", user_id, exc)
            return False
        async with db.unit_of_work(ANONYMOUS) as uow:
            tenant_id = await uow.conn.scalar(
                select(google_links.c.tenant_id).where(google_links.c.user_id == user_id)
            )
            if tenant_id is None:
                return False
            await uow.conn.execute(
                delete(busy_intervals).where(busy_intervals.c.provider_id == user_id)
            )
            rows = [
                {"provider_id": user_id, "tenant_id": tenant_id, "start_at": s, "end_at": e}
                for s, e in busy
                if e > s
            ]
            if rows:
                await uow.conn.execute(insert(busy_intervals), rows)
            await uow.conn.execute(
                update(google_links)
                .where(google_links.c.user_id == user_id)
                .values(busy_synced_at=uow.clock.now())
            )
        return True

    async def sync_all(self, db: Database, limit: int = 100) -> int:
        """The job: every connected link, least recently synced first."""
        if self.google is None or not self.google.config.enabled:
            return 0
        async with db.reader(ANONYMOUS) as uow:
            users = list(
                (
                    await uow.conn.execute(
                        select(google_links.c.user_id)
                        .where(google_links.c.status == "connected")
                        .order_by(google_links.c.busy_synced_at.asc().nulls_first())
                        .limit(limit)
                    )
                ).scalars()
            )
        for user_id in users:
            await self.sync_busy(db, user_id)
        return len(users)

    async def push_appointments(self, db: Database, rows: Sequence[AppointmentRow]) -> None:
        """Writes new bookings to their provider's calendar, when linked (best effort)."""
        if not rows or self.google is None or not self.google.config.enabled:
            return
        provider_id = rows[0].provider_id
        # Every booking passes here when Google is configured: one plain statement on the fast
        # reader (no SQLAlchemy checkout), and nothing more when the provider is not linked.
        async with db.fast_reader(ANONYMOUS) as reads:
            found = await fastsql.fetchrow(reads, LINK_AND_NAME, provider_id, rows[0].service_id)
        status, name = (found[0], found[1]) if found is not None else (None, None)
        if status != "connected":
            return
        try:
            token = await self._access_token(db, provider_id)
            if token is None:
                return
            for row in rows:
                event_id = await self.google.insert_event(
                    token,
                    str(name or "Appointment"),
                    row.start_at,
                    row.end_at,
                    row.timezone,
                    row.id,
                )
                async with db.unit_of_work(ANONYMOUS) as uow:
                    await uow.conn.execute(
                        update(appointments)
                        .where(appointments.c.id == row.id)
                        .values(google_event_id=event_id)
                    )
        except GrantRevoked:
            await self._break(db, provider_id, "Google refused the access token.")
        except GoogleUnavailable as exc:
            log.warning("appointment not written to Google: %s", exc)
