"""Principals for tests that sign their own calls: a workspace owner with every ability, changed
field by field (lists replace the default)."""

from __future__ import annotations

from plixa.common.v1.principal_pb2 import Principal


def owner_principal(**changes: object) -> Principal:
    principal = Principal(
        kind=Principal.KIND_USER,
        user_id=1,
        tenant_id=1,
        role="owner",
        abilities=["*"],
        tenant_status="active",
        features=["api_access"],
    )
    for name, value in changes.items():
        if isinstance(value, list):
            del getattr(principal, name)[:]
            getattr(principal, name).extend(value)
        else:
            setattr(principal, name, value)
    return principal
