"""The client's address travels signed with the principal, and services read it from the kit."""

from __future__ import annotations

from plixa.common.v1.principal_pb2 import Principal
from services.kit.principal import (
    client_address,
    reset_current_principal,
    set_current_principal,
    sign,
    verify,
    with_client_address,
)

SECRET = b"unit-test-secret"


def test_an_anonymous_caller_carries_its_address_signed() -> None:
    forwarded = with_client_address(None, "203.0.113.9")
    method, request_id = "/plixa.identity.v1.Identity/Login", "req-1"
    received = verify(dict(sign(forwarded, SECRET, method, request_id)), SECRET, method, request_id)
    assert received.kind == Principal.KIND_ANONYMOUS
    assert received.client_address == "203.0.113.9"
    token = set_current_principal(received)
    try:
        assert client_address() == "203.0.113.9"
    finally:
        reset_current_principal(token)
    assert client_address() == ""  # outside a forwarded call: no address


def test_the_shared_principal_is_not_changed() -> None:
    cached = Principal(kind=Principal.KIND_USER, user_id=7, tenant_id=3)
    forwarded = with_client_address(cached, "198.51.100.1")
    assert (forwarded.user_id, forwarded.client_address) == (7, "198.51.100.1")
    assert cached.client_address == ""
