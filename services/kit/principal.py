"""The caller of an RPC: signed by the gateway, verified by every service, in a contextvar."""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import time
from collections import OrderedDict

from plixa.common.v1.principal_pb2 import Principal
from services.kit.errors import DomainError, unauthenticated

PRINCIPAL_METADATA_KEY = "plixa-principal-bin"
SIGNATURE_METADATA_KEY = "plixa-principal-sig"
MAX_SIGNATURE_AGE_SECONDS = 30

ANONYMOUS = Principal(kind=Principal.KIND_ANONYMOUS)
_current: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal", default=ANONYMOUS)


def _mac(secret: bytes, blob: bytes, method: str, request_id: str) -> str:
    """One HMAC-SHA256 over the principal, the full method name and the request id (each
    length-prefixed), so a signature is good for that call only: not for another method, and
    (with the 30 s window) not for another request."""
    bound = method.encode() + b"\0" + request_id.encode()
    message = b"%d:%b%b" % (len(bound), bound, blob)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(
    principal: Principal, secret: bytes, method: str, request_id: str
) -> list[tuple[str, str | bytes]]:
    """Metadata carrying the principal and its signature for one call of `method`; the call
    must carry `request_id` as its x-request-id."""
    stamped = Principal()
    stamped.CopyFrom(principal)
    stamped.issued_at_unix = int(time.time())
    blob = stamped.SerializeToString(deterministic=True)
    signature = _mac(secret, blob, method, request_id)
    return [(PRINCIPAL_METADATA_KEY, blob), (SIGNATURE_METADATA_KEY, signature)]


def verify(
    metadata: dict[str, str | bytes],
    secret: bytes,
    method: str,
    request_id: str,
    now: float | None = None,
) -> Principal:
    """The principal in the metadata, or ANONYMOUS when there is none; refuses a signature that
    is bad, too old, or made for another method or request id."""
    blob = metadata.get(PRINCIPAL_METADATA_KEY)
    signature = metadata.get(SIGNATURE_METADATA_KEY)
    if blob is None and signature is None:
        return ANONYMOUS
    if not isinstance(blob, bytes) or not isinstance(signature, str):
        raise _invalid()
    if not hmac.compare_digest(_mac(secret, blob, method, request_id), signature):
        raise _invalid()
    principal = Principal.FromString(blob)
    _check_age(principal, now)
    return principal


def _invalid() -> DomainError:
    return unauthenticated("INVALID_PRINCIPAL", "The caller's identity could not be verified.")


def _check_age(principal: Principal, now: float | None) -> None:
    age = (now if now is not None else time.time()) - principal.issued_at_unix
    if abs(age) > MAX_SIGNATURE_AGE_SECONDS:
        raise unauthenticated("INVALID_PRINCIPAL", "The caller's identity has expired.")


class PrincipalVerifier:
    """`verify` with a small LRU keyed by everything signed (blob, signature, method, request
    id): a request that reaches the same method twice (a retry) is verified once. Only verified
    entries are kept, and the age window is re-checked on every hit. The cached Principal is
    shared: handlers read it, never change it."""

    def __init__(self, secret: bytes, max_entries: int = 1024) -> None:
        self.secret = secret
        self.max_entries = max_entries
        self._verified: OrderedDict[tuple[bytes, str, str, str], Principal] = OrderedDict()

    def verify(
        self,
        metadata: dict[str, str | bytes],
        method: str,
        request_id: str,
        now: float | None = None,
    ) -> Principal:
        blob = metadata.get(PRINCIPAL_METADATA_KEY)
        signature = metadata.get(SIGNATURE_METADATA_KEY)
        if isinstance(blob, bytes) and isinstance(signature, str):
            key = (blob, signature, method, request_id)
            cached = self._verified.get(key)
            if cached is not None:
                self._verified.move_to_end(key)
                _check_age(cached, now)
                return cached
            principal = verify(metadata, self.secret, method, request_id, now)
            self._verified[key] = principal
            if len(self._verified) > self.max_entries:
                self._verified.popitem(last=False)
            return principal
        return verify(metadata, self.secret, method, request_id, now)


def current_principal() -> Principal:
    """The caller of the RPC being served. Who may call an RPC at all is its declared rule,
    enforced before the handler runs (services/kit/access.py); handlers read the ids they need."""
    return _current.get()


def client_address() -> str:
    """The end client's address of the request being served, as the gateway resolved it (the
    peer, or X-Forwarded-For from a trusted proxy) and signed with the principal; "" when the
    call did not come from the gateway."""
    return _current.get().client_address


def with_client_address(principal: Principal | None, address: str) -> Principal:
    """A copy of the principal (ANONYMOUS when None) that carries the client's address. A copy:
    the gateway's cached principals are shared between requests."""
    forwarded = Principal()
    if principal is not None:
        forwarded.CopyFrom(principal)
    forwarded.client_address = address
    return forwarded


def set_current_principal(principal: Principal) -> contextvars.Token[Principal]:
    return _current.set(principal)


def reset_current_principal(token: contextvars.Token[Principal]) -> None:
    _current.reset(token)


def service_principal(service: str, tenant_id: int = 0) -> Principal:
    """How one Plixa process identifies itself to another's internal RPCs."""
    return Principal(kind=Principal.KIND_SERVICE, service=service, tenant_id=tenant_id)


# A service that revokes tokens names them in this trailing metadata key, so the gateway that
# carried the request drops them from its cache at once (other replicas learn it from the event).
INVALIDATE_TOKEN_METADATA_KEY = "plixa-invalidate-token"
INVALIDATE_USER_METADATA_KEY = "plixa-invalidate-user"
INVALIDATE_TENANT_METADATA_KEY = "plixa-invalidate-tenant"
