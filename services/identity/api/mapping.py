"""Domain objects → protobuf messages that are more than a field-by-field copy (those go through
services.kit.protos.to_proto)."""

from __future__ import annotations

from plixa.identity.v1 import identity_pb2
from services.identity.domain.models import Tenant, User
from services.kit.protos import to_proto


def me_to_proto(user: User, tenant: Tenant) -> identity_pb2.Me:
    return identity_pb2.Me(
        user=to_proto(user, identity_pb2.User), tenant=to_proto(tenant, identity_pb2.Tenant)
    )
