"""Password hashing with hashlib.scrypt (OWASP: N=2^17, r=8, p=1). Each hash costs ~0.35 s of one
core, so hashing runs in threads bounded by a semaphore: a login burst queues instead of
starving the process."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os

SALT_BYTES = 16
KEY_BYTES = 32


class PasswordHasher:
    def __init__(self, n: int = 2**17, r: int = 8, p: int = 1, concurrency: int | None = None):
        self.n, self.r, self.p = n, r, p
        self._slots = asyncio.Semaphore(concurrency or os.cpu_count() or 2)
        self._dummy = self._hash_sync("not-a-real-password", os.urandom(SALT_BYTES), n, r, p)

    @staticmethod
    def _hash_sync(password: str, salt: bytes, n: int, r: int, p: int) -> str:
        key = hashlib.scrypt(
            password.encode(),
            salt=salt,
            n=n,
            r=r,
            p=p,
            maxmem=256 * 1024 * 1024,
            dklen=KEY_BYTES,
        )
        encode = base64.b64encode
        return f"scrypt${n}${r}${p}${encode(salt).decode()}${encode(key).decode()}"

    async def hash(self, password: str) -> str:
        salt = os.urandom(SALT_BYTES)
        async with self._slots:
            return await asyncio.to_thread(self._hash_sync, password, salt, self.n, self.r, self.p)

    async def verify(self, password: str, encoded: str) -> bool:
        """Checks with the hash's own parameters, so raising N later keeps old hashes valid."""
        try:
            scheme, n, r, p, salt, _ = encoded.split("$")
            if scheme != "scrypt":
                return False
            params = int(n), int(r), int(p)
        except ValueError:
            return False
        async with self._slots:
            candidate = await asyncio.to_thread(
                self._hash_sync, password, base64.b64decode(salt), *params
            )
        return hmac.compare_digest(candidate, encoded)

    async def verify_account(self, password: str, password_hash: str | None) -> bool:
        """Checks a sign-in; a missing account (None) costs the same time and fails."""
        if password_hash is None:
            await self.verify_nothing(password)
            return False
        return await self.verify(password, password_hash)

    async def verify_nothing(self, password: str) -> None:
        """Spends the same time as a real check, so an unknown email is not faster to refuse."""
        await self.verify(password, self._dummy)
