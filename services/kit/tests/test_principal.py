"""Principal signing: what services trust and what they refuse."""

from __future__ import annotations

import time

import pytest

from plixa.common.v1.principal_pb2 import Principal
from services.kit.errors import DomainError
from services.kit.principal import ANONYMOUS, PRINCIPAL_METADATA_KEY, sign, verify

SECRET = b"unit-test-secret"


def member() -> Principal:
    return Principal(
        kind=Principal.KIND_USER, user_id=7, tenant_id=3, role="agent", abilities=["*"]
    )


def test_a_signed_principal_round_trips() -> None:
    principal = verify(dict(sign(member(), SECRET)), SECRET)
    assert (principal.user_id, principal.tenant_id, principal.role) == (7, 3, "agent")


def test_no_metadata_is_anonymous() -> None:
    assert verify({}, SECRET) == ANONYMOUS


@pytest.mark.parametrize("secret", [b"another-secret", b""])
def test_another_key_is_refused(secret: bytes) -> None:
    with pytest.raises(DomainError) as refused:
        verify(dict(sign(member(), secret)), SECRET)
    assert refused.value.code == "INVALID_PRINCIPAL"


def test_a_tampered_principal_is_refused() -> None:
    metadata = dict(sign(member(), SECRET))
    tampered = Principal.FromString(metadata[PRINCIPAL_METADATA_KEY])
    tampered.role = "owner"
    metadata[PRINCIPAL_METADATA_KEY] = tampered.SerializeToString(deterministic=True)
    with pytest.raises(DomainError):
        verify(metadata, SECRET)


def test_an_old_signature_is_refused() -> None:
    metadata = dict(sign(member(), SECRET))
    with pytest.raises(DomainError):
        verify(metadata, SECRET, now=time.time() + 120)
