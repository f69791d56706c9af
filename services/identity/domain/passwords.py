"""Password hashing with hashlib.scrypt (OWASP: N=2^17, r=8, p=1). Each hash costs ~0.35 s of one
core and 128 MiB (128·r·N bytes), so at most `concurrency` hashes run at once, in a thread pool of
that size: memory stays bounded whatever the burst. A request that cannot start hashing within
`max_wait` seconds is refused with 503 and Retry-After rather than queueing without end."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import grpc

from services.kit.errors import DomainError

SALT_BYTES = 16
KEY_BYTES = 32
RETRY_AFTER_SECONDS = 2

log = logging.getLogger("plixa.identity.passwords")


def busy() -> DomainError:
    return DomainError(
        "SERVICE_UNAVAILABLE",
        "Sign-in is busy. Retry in a moment.",
        503,
        grpc.StatusCode.UNAVAILABLE,
        retry_after_seconds=RETRY_AFTER_SECONDS,
    )


class PasswordHasher:
    def __init__(
        self,
        n: int = 2**17,
        r: int = 8,
        p: int = 1,
        concurrency: int = 2,
        max_wait: float = 2.0,
    ) -> None:
        self.n, self.r, self.p = n, r, p
        self.max_wait = max_wait
        self._slots = asyncio.Semaphore(concurrency)
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="scrypt")
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

    async def _run(self, password: str, salt: bytes, n: int, r: int, p: int) -> str:
        """One hash in the bounded pool; 503 when no slot frees up within max_wait."""
        try:
            async with asyncio.timeout(self.max_wait):
                await self._slots.acquire()
        except TimeoutError:
            raise busy() from None
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._threads, self._hash_sync, password, salt, n, r, p
            )
        finally:
            self._slots.release()

    async def hash(self, password: str) -> str:
        return await self._run(password, os.urandom(SALT_BYTES), self.n, self.r, self.p)

    async def verify(self, password: str, encoded: str) -> bool:
        """Checks with the hash's own parameters, so raising N later keeps old hashes valid."""
        try:
            scheme, n, r, p, salt, _ = encoded.split("$")
            if scheme != "scrypt":
                return False
            params = int(n), int(r), int(p)
        except ValueError:
            return False
        candidate = await self._run(password, base64.b64decode(salt), *params)
        log.info("password_checked")  # one line per evaluation: what a sign-in burst cost us
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
