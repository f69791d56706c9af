"""The password gate: sensitive changes re-check the current password (a stolen session token is
not enough). Wrong passwords count towards a throttle like sign-in does."""

from __future__ import annotations

from services.identity.domain import throttle
from services.identity.domain.models import User
from services.identity.domain.passwords import PasswordHasher
from services.identity.store import accounts as account_store
from services.kit.db import Database
from services.kit.errors import invalid, not_found


class PasswordGate:
    """Opens its own units of work: each check is counted and committed before the password is
    hashed, and no transaction is held while it is."""

    def __init__(self, db: Database, passwords: PasswordHasher) -> None:
        self.db = db
        self.passwords = passwords

    async def current_user(self) -> User:
        """The calling member, fresh from the database."""
        async with self.db.reader() as uow:
            user = await account_store.get_user(uow, uow.scope.tenant_id, uow.principal.user_id)
        if user is None:
            raise not_found("User")
        return user

    async def confirm(self, password: str) -> User:
        """The calling member, once `password` is theirs; otherwise a 422 on the password."""
        user = await self.current_user()
        async with self.db.unit_of_work() as uow:  # counted (committed) before hashing
            await throttle.claim_check(uow, "reauth", str(user.id))
        if await self.passwords.verify(password, user.password_hash):
            async with self.db.unit_of_work() as uow:
                await throttle.check_passed(uow, "reauth", str(user.id))
            return user
        raise invalid("password", "The password is incorrect.", "current_password")
