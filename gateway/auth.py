"""Bearer token → principal, through identity, with a short cache.

The cache is keyed by token id and holds a digest of the whole token, so a forged secret never
matches a cached entry. Revocations clear it: the revoking call's trailing metadata clears this
replica at once, and the `identity.token.revoked` event clears every other replica."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.msg import Msg

from gateway.errors import GatewayError
from gateway.upstream import Upstreams
from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import events_pb2, internal_pb2
from services.kit.messaging import NatsLink
from services.kit.principal import (
    INVALIDATE_TENANT_METADATA_KEY,
    INVALIDATE_TOKEN_METADATA_KEY,
    INVALIDATE_USER_METADATA_KEY,
    service_principal,
)

log = logging.getLogger("plixa.gateway.auth")
AUTHENTICATE = "/plixa.identity.v1.IdentityInternal/AuthenticateToken"
REVOKED_SUBJECT = "identity.token.revoked"
ACCESS_CHANGED_SUBJECT = "identity.access.changed"


@dataclass
class _Entry:
    digest: bytes
    principal: Principal
    expires_at: float


class TokenCache:
    def __init__(
        self, ttl_seconds: float, max_entries: int = 100_000, refused_ttl_seconds: float = 5.0
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[int, _Entry] = {}
        # Tokens identity refused (no such token, wrong secret, expired, revoked), by the digest
        # of the whole token: a refusal is final for that exact string (a token id issued later
        # comes with a fresh random secret, which a cached guess cannot equal), so a hit never
        # turns a valid token away. Short-lived anyway, and it only saves identity the repeats.
        self.refused_ttl = refused_ttl_seconds
        self._refused: dict[bytes, float] = {}
        # Bumped by every drop: a principal resolved before a drop may predate the change that
        # caused it (a revocation, a new plan), so it is used once but not kept (see put()).
        self.generation = 0

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token_id: int, token: str) -> Principal | None:
        entry = self._entries.get(token_id)
        if entry is None or entry.expires_at < time.monotonic():
            return None
        if not hmac.compare_digest(entry.digest, self._digest(token)):
            return None
        return entry.principal

    def put(
        self, token_id: int, token: str, principal: Principal, generation: int | None = None
    ) -> None:
        """Keeps a principal resolved while the cache was at `generation`, unless an entry was
        dropped since (the resolution may have read the state from before that change)."""
        if generation is not None and generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # bounded memory; entries are cheap to refetch
        self._entries[token_id] = _Entry(
            self._digest(token), principal, time.monotonic() + self.ttl
        )

    def refused(self, token: str) -> bool:
        expires_at = self._refused.get(self._digest(token))
        return expires_at is not None and expires_at >= time.monotonic()

    def put_refused(self, token: str) -> None:
        if self.refused_ttl <= 0:
            return
        if len(self._refused) >= self.max_entries:
            self._refused.clear()
        self._refused[self._digest(token)] = time.monotonic() + self.refused_ttl

    def drop(self, token_id: int) -> None:
        self.generation += 1
        self._entries.pop(token_id, None)

    def drop_user(self, user_id: int) -> None:
        self.generation += 1
        for token_id in [k for k, e in self._entries.items() if e.principal.user_id == user_id]:
            self._entries.pop(token_id, None)

    def drop_tenant(self, tenant_id: int) -> None:
        self.generation += 1
        stale = [k for k, e in self._entries.items() if e.principal.tenant_id == tenant_id]
        for token_id in stale:
            self._entries.pop(token_id, None)

    def apply_invalidation(self, key: str, value: str) -> None:
        """One `plixa-invalidate-*` trailing metadata entry from a service."""
        if not value.isdigit():
            return
        if key == INVALIDATE_TOKEN_METADATA_KEY:
            self.drop(int(value))
        elif key == INVALIDATE_USER_METADATA_KEY:
            self.drop_user(int(value))
        elif key == INVALIDATE_TENANT_METADATA_KEY:
            self.drop_tenant(int(value))

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


def unauthenticated(message: str = "Authentication required.") -> GatewayError:
    return GatewayError(401, "UNAUTHENTICATED", message, headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    def __init__(self, upstreams: Upstreams, cache: TokenCache, timeout: float) -> None:
        self.upstreams = upstreams
        self.cache = cache
        self.timeout = timeout

    async def resolve(
        self,
        authorization: str | None,
        request_id: str,
        before_asking: Callable[[], None] | None = None,
    ) -> Principal | None:
        """The caller's principal; None without a bearer; 401 for a bad one. `before_asking`
        runs before identity is asked (on a cache miss) and may refuse, e.g. with a 429."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("Use the Authorization: Bearer <token> header.")
        token_id_text = token.partition("|")[0]
        if not token_id_text.isdigit() or len(token_id_text) > 18:
            raise unauthenticated("The bearer token is invalid or has expired.")
        token_id = int(token_id_text)
        cached = self.cache.get(token_id, token)
        if cached is not None:
            copy = Principal()
            copy.CopyFrom(cached)
            return copy
        if self.cache.refused(token):
            raise unauthenticated("The bearer token is invalid or has expired.")
        if before_asking is not None:
            before_asking()
        generation = self.cache.generation
        try:
            principal, _ = await self.upstreams.call(
                "identity",
                AUTHENTICATE,
                internal_pb2.AuthenticateTokenRequest(token=token),
                Principal,
                timeout=self.timeout,
                principal=service_principal("gateway"),
                request_id=request_id,
            )
        except GatewayError as error:
            if error.status == 401:
                self.cache.put_refused(token)
                raise unauthenticated("The bearer token is invalid or has expired.") from None
            raise
        self.cache.put(token_id, token, principal, generation)
        return principal

    async def listen_for_revocations(self, nats: NatsLink) -> None:
        """Every replica drops revoked tokens; after a NATS outage the whole cache goes, since
        revocations may have been missed meanwhile."""
        client = await nats.ready()

        async def on_revoked(msg: Msg) -> None:
            self.cache.drop(events_pb2.TokenRevoked.FromString(msg.data).token_id)

        async def on_access_changed(msg: Msg) -> None:
            event = events_pb2.AccessChanged.FromString(msg.data)
            if event.user_id:
                self.cache.drop_user(event.user_id)
            else:
                self.cache.drop_tenant(event.tenant_id)

        await client.subscribe(REVOKED_SUBJECT, cb=on_revoked)
        await client.subscribe(ACCESS_CHANGED_SUBJECT, cb=on_access_changed)
