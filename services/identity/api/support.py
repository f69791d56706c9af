"""What identity's servicers share: re-checking the current password, and telling the gateway
which cached principals a call made stale."""

from __future__ import annotations

import grpc

from plixa.identity.v1 import events_pb2
from services.identity.domain import throttle
from services.identity.domain.models import User
from services.identity.domain.passwords import PasswordHasher
from services.identity.store import accounts as account_store
from services.kit.db import Database, UnitOfWork
from services.kit.errors import invalid, not_found
from services.kit.principal import (
    INVALIDATE_TENANT_METADATA_KEY,
    INVALIDATE_TOKEN_METADATA_KEY,
    INVALIDATE_USER_METADATA_KEY,
    require_user,
)


def send_cache_invalidations(context: grpc.aio.ServicerContext, uow: UnitOfWork) -> None:
    """The gateway that carried this call drops these at once; the events reach the others."""
    metadata: list[tuple[str, str]] = []
    for event in uow.emitted:
        if isinstance(event.message, events_pb2.TokenRevoked):
            metadata.append((INVALIDATE_TOKEN_METADATA_KEY, str(event.message.token_id)))
        elif isinstance(event.message, events_pb2.AccessChanged):
            if event.message.user_id:
                metadata.append((INVALIDATE_USER_METADATA_KEY, str(event.message.user_id)))
            else:
                metadata.append((INVALIDATE_TENANT_METADATA_KEY, str(event.message.tenant_id)))
    if metadata:
        context.set_trailing_metadata(tuple(metadata))


class PasswordGate:
    """Sensitive changes re-check the current password (a stolen session token is not enough).
    Wrong passwords count towards a throttle like sign-in does."""

    def __init__(self, db: Database, passwords: PasswordHasher) -> None:
        self.db = db
        self.passwords = passwords

    async def current_user(self) -> User:
        principal = require_user()
        async with self.db.unit_of_work() as uow:
            user = await account_store.get_user(uow, principal.tenant_id, principal.user_id)
        if user is None:
            raise not_found("User")
        return user

    async def confirm(self, password: str) -> User:
        user = await self.current_user()
        subject = throttle.subject_for("reauth", str(user.id))
        async with self.db.unit_of_work() as uow:
            await throttle.refuse_if_throttled(uow, subject)
        if await self.passwords.verify(password, user.password_hash):
            return user
        async with self.db.unit_of_work() as uow:
            await throttle.record_failure(uow, subject)
        raise invalid("password", "The password is incorrect.", "current_password")
