"""The gateway's token cache never keeps a principal that may predate an invalidation."""

from __future__ import annotations

from gateway.auth import TokenCache
from plixa.common.v1.principal_pb2 import Principal

TOKEN = "7|secret"


def test_a_principal_resolved_before_a_drop_is_not_kept() -> None:
    cache = TokenCache(ttl_seconds=30)
    before = Principal(kind=Principal.KIND_USER, tenant_id=3, user_id=5, plan="starter")
    resolving_at = cache.generation  # a resolution starts; meanwhile the tenant's plan changes
    cache.drop_tenant(3)
    cache.put(7, TOKEN, before, resolving_at)
    assert cache.get(7, TOKEN) is None  # the next request resolves again, with the new plan

    after = Principal(kind=Principal.KIND_USER, tenant_id=3, user_id=5, plan="business")
    cache.put(7, TOKEN, after, cache.generation)
    assert cache.get(7, TOKEN) == after
    assert cache.get(7, "7|forged") is None
